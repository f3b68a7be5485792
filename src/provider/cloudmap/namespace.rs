//! `cloudmap_namespace`: the AWS Cloud Map HTTP namespace of an API's private
//! integration. id = namespace id.

use std::collections::HashMap;

use aws_sdk_servicediscovery::types::OperationTargetType;
use serde_json::json;

use crate::graph::{Node, Source};
use crate::model::*;
use crate::provider::aws::{err, Aws, AwsError};
use crate::provider::common::*;
use crate::provider::kind::{resource_kind, Call};
use crate::spec::Spec;

pub const KIND: Kind = Kind::named("cloudmap_namespace");

pub const FORCE_NEW: &[&str] = &["name"];

pub fn address(api: &str) -> String {
    format!("cloudmap_namespace.{api}")
}

/// One namespace per API that declares `vpc_link`.
pub fn nodes(spec: &Spec) -> Vec<Node> {
    spec.apis.iter().filter(|(_, a)| a.vpc_link.is_some()).map(|(api, _)| Node::new(address(api), KIND, vec![], Source::entry(api))).collect()
}

pub fn desired(env: &Env, node: &Node) -> Attrs {
    json!({
        "name": env.spec.aws_name(&node.source.name),
        "tags": env.tags(&node.address, &[]),
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

/// Creates the namespace with the recorded token as CreatorRequestId, so a
/// repeated create after a lost answer returns the first one's operation.
pub async fn create(aws: &Aws, address: &str, want: &Attrs, token: &str) -> Result<Known, AwsError> {
    let created = aws
        .cloudmap
        .create_http_namespace()
        .name(s(want, "name"))
        .creator_request_id(token)
        .set_tags(Some(super::tags(want)))
        .send()
        .await
        .map_err(err("servicediscovery:CreateHttpNamespace"));
    let made = match created {
        Ok(out) => {
            let targets = super::wait_operation(aws, out.operation_id().unwrap_or_default()).await?;
            Ok(targets.get(&OperationTargetType::Namespace).cloned().unwrap_or_default())
        }
        Err(e) => Err(e),
    };
    super::settle(aws, made, "NamespaceAlreadyExists", "namespace", address, want, || find(aws, want), |id| async move { read_one(aws, &id, "").await }).await
}

/// The namespace of the name `want` gives, if there is one.
pub async fn find(aws: &Aws, want: &Attrs) -> Result<Option<Known>, AwsError> {
    let mut token = None;
    loop {
        let page = aws.cloudmap.list_namespaces().set_next_token(token).send().await.map_err(err("servicediscovery:ListNamespaces"))?;
        if let Some(ns) = page.namespaces().iter().find(|n| n.name() == Some(s(want, "name"))) {
            let id = ns.id().unwrap_or_default().to_string();
            return Ok(read_one(aws, &id, "").await?.map(|attrs| Known { id, attrs }));
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(None);
        }
    }
}

pub async fn read(aws: &Aws, items: &[ReadItem]) -> Result<HashMap<String, Option<Attrs>>, AwsError> {
    super::read_each(items, |id, arn| async move { read_one(aws, &id, &arn).await }).await
}

/// Reads it by id, with its tags beside it when `known_arn` (what the state
/// records) is given.
async fn read_one(aws: &Aws, id: &str, known_arn: &str) -> Result<Option<Attrs>, AwsError> {
    let get = async {
        let out = match aws.cloudmap.get_namespace().id(id).send().await.map_err(err("servicediscovery:GetNamespace")) {
            Ok(out) => out,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(out.namespace().and_then(|ns| json!({"name": ns.name(), "arn": ns.arn().unwrap_or_default()}).as_object().cloned()))
    };
    super::read_tagged(aws, known_arn, get).await
}

pub async fn update(aws: &Aws, id: &str, before: &Attrs, after: &Attrs) -> Result<Attrs, AwsError> {
    super::retag(aws, id, before, after, "namespace", |id| async move { read_one(aws, &id, "").await }).await
}

pub async fn delete(aws: &Aws, id: &str, _attrs: &Attrs) -> Result<(), AwsError> {
    let out = aws.cloudmap.delete_namespace().id(id).send().await.map_err(err("servicediscovery:DeleteNamespace"))?;
    super::wait_operation(aws, out.operation_id().unwrap_or_default()).await?;
    Ok(())
}

/// The `cloudmap_namespace` kind.
pub(crate) struct Namespace;

resource_kind!(Namespace, KIND, create(aws, address, want, token) => create(aws, address, want, token),
    fn find<'a>(&'a self, aws: &'a Aws, _address: &'a str, want: &'a Attrs) -> Call<'a, Option<Known>> {
        Box::pin(find(aws, want))
    }

    fn grants(&self, spec: &Spec) -> Vec<crate::provider::kind::Grant> {
        use crate::provider::kind::{Grant, TagOn};
        use super::cloud_map;
        let star = || vec!["*".to_string()];
        vec![
            Grant::read("CloudMapRead", &["servicediscovery:GetNamespace", "servicediscovery:ListNamespaces", "servicediscovery:GetOperation", "servicediscovery:ListTagsForResource"], star()),
            Grant::write("CloudMapCreate", &["servicediscovery:CreateHttpNamespace", "servicediscovery:TagResource"], star()).tagged(TagOn::Request, &spec.project),
            Grant::write("CloudMapUntag", &["servicediscovery:UntagResource"], star()).when(crate::provider::kind::keeps_gwctl_tags()),
            Grant::write("CloudMapProjectNamespaces", &["servicediscovery:DeleteNamespace"], vec![cloud_map(spec, "namespace/*")]).tagged(TagOn::Resource, &spec.project),
        ]
    }
);
