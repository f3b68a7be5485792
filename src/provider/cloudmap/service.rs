//! `cloudmap_service`: the Cloud Map service the private integration
//! targets (its ARN is the integration URI). id = service id.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_servicediscovery::types::{FilterCondition, ServiceFilter, ServiceFilterName};
use serde_json::json;

use crate::graph::{Node, Source};
use crate::model::*;
use crate::provider::aws::{err, retry_while, Aws, AwsError};
use crate::provider::common::*;
use crate::provider::kind::{resource_kind, Call};
use crate::spec::Spec;

pub const KIND: Kind = Kind::named("cloudmap_service");

pub const FORCE_NEW: &[&str] = &["name", "namespace_id"];

/// How long a delete waits for instances being deregistered (ResourceInUse).
const IN_USE_TIMEOUT: Duration = Duration::from_secs(120);

pub fn address(api: &str) -> String {
    format!("cloudmap_service.{api}")
}

/// One service per API that declares `vpc_link`, in its namespace.
pub fn nodes(spec: &Spec) -> Vec<Node> {
    let node = |api: &String| Node::new(address(api), KIND, vec![super::namespace::address(api)], Source::entry(api));
    spec.apis.iter().filter(|(_, a)| a.vpc_link.is_some()).map(|(api, _)| node(api)).collect()
}

pub fn desired(env: &Env, node: &Node) -> Attrs {
    let api = &node.source.name;
    let Some(spec_api) = env.spec.apis.get(api) else { return Attrs::new() };
    json!({
        "name": spec_api.backend,
        "namespace_id": env.id(&super::namespace::address(api)),
        "tags": env.tags(&node.address, &[]),
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

pub async fn create(aws: &Aws, address: &str, want: &Attrs, token: &str) -> Result<Known, AwsError> {
    let made = aws
        .cloudmap
        .create_service()
        .name(s(want, "name"))
        .namespace_id(s(want, "namespace_id"))
        .creator_request_id(token)
        .set_tags(Some(super::tags(want)))
        .send()
        .await
        .map(|out| out.service().and_then(|s| s.id()).unwrap_or_default().to_string())
        .map_err(err("servicediscovery:CreateService"));
    super::settle(aws, made, "ServiceAlreadyExists", "service", address, want, || find(aws, address, want), |id| async move { read_one(aws, &id, "").await }).await
}

/// The service this project made for `address`: of the wanted name, in the
/// wanted namespace when that is known, and tagged for the address (after a
/// lost state the namespace is found in the same pass, so its id is not
/// known yet). Without such tags, one of the name in the namespace.
pub async fn find(aws: &Aws, address: &str, want: &Attrs) -> Result<Option<Known>, AwsError> {
    let namespace = Some(s(want, "namespace_id")).filter(|n| !n.is_empty() && !want.get("namespace_id").is_some_and(is_unknown));
    let mut named = Vec::new();
    let mut token = None;
    loop {
        let mut call = aws.cloudmap.list_services().set_next_token(token);
        if let Some(namespace) = namespace {
            let filter = ServiceFilter::builder()
                .name(ServiceFilterName::NamespaceId)
                .values(namespace)
                .condition(FilterCondition::Eq)
                .build()
                .map_err(|e| AwsError::other("servicediscovery:ListServices", e.to_string()))?;
            call = call.filters(filter);
        }
        let page = call.send().await.map_err(err("servicediscovery:ListServices"))?;
        named.extend(page.services().iter().filter(|x| x.name() == Some(s(want, "name"))).filter_map(|x| x.id().map(str::to_string)));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let mut fallback = None;
    for id in named {
        let Some(attrs) = read_one(aws, &id, "").await? else { continue };
        if project_tag(&attrs) == project_tag(want) && tag(&attrs, "gwctl:address") == Some(address) {
            return Ok(Some(Known { id, attrs }));
        }
        if namespace.is_some() && fallback.is_none() {
            fallback = Some(Known { id, attrs });
        }
    }
    Ok(fallback)
}

pub async fn read(aws: &Aws, items: &[ReadItem]) -> Result<HashMap<String, Option<Attrs>>, AwsError> {
    super::read_each(items, |id, arn| async move { read_one(aws, &id, &arn).await }).await
}

/// Reads it by id, with its tags beside it when `known_arn` (what the state
/// records) is given.
async fn read_one(aws: &Aws, id: &str, known_arn: &str) -> Result<Option<Attrs>, AwsError> {
    let get = async {
        let out = match aws.cloudmap.get_service().id(id).send().await.map_err(err("servicediscovery:GetService")) {
            Ok(out) => out,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(out.service().and_then(|svc| json!({"name": svc.name(), "namespace_id": svc.namespace_id(), "arn": svc.arn().unwrap_or_default()}).as_object().cloned()))
    };
    super::read_tagged(aws, known_arn, get).await
}

pub async fn update(aws: &Aws, id: &str, before: &Attrs, after: &Attrs) -> Result<Attrs, AwsError> {
    super::retag(aws, id, before, after, "service", |id| async move { read_one(aws, &id, "").await }).await
}

/// Cloud Map refuses to delete a service with registered instances
/// (ResourceInUse) until their deregistration finishes.
pub async fn delete(aws: &Aws, id: &str, _attrs: &Attrs) -> Result<(), AwsError> {
    retry_while(&["ResourceInUse"], &[], IN_USE_TIMEOUT, || async {
        aws.cloudmap.delete_service().id(id).send().await.map(|_| ()).map_err(err("servicediscovery:DeleteService"))
    })
    .await
}

/// The `cloudmap_service` kind.
pub(crate) struct Service;

resource_kind!(Service, KIND, create(aws, address, want, token) => create(aws, address, want, token),
    fn find<'a>(&'a self, aws: &'a Aws, address: &'a str, want: &'a Attrs) -> Call<'a, Option<Known>> {
        Box::pin(find(aws, address, want))
    }

    fn grants(&self, spec: &Spec) -> Vec<crate::provider::kind::Grant> {
        use crate::provider::kind::{Grant, TagOn};
        use super::cloud_map;
        let star = || vec!["*".to_string()];
        vec![
            Grant::read("CloudMapRead", &["servicediscovery:GetService", "servicediscovery:ListServices", "servicediscovery:GetOperation", "servicediscovery:ListTagsForResource"], star()),
            Grant::write("CloudMapCreate", &["servicediscovery:CreateService", "servicediscovery:TagResource"], star()).tagged(TagOn::Request, &spec.project),
            Grant::write("CloudMapUntag", &["servicediscovery:UntagResource"], star()).when(crate::provider::kind::keeps_gwctl_tags()),
            Grant::write("CloudMapProjectServices", &["servicediscovery:DeleteService"], vec![cloud_map(spec, "service/*")]).tagged(TagOn::Resource, &spec.project),
        ]
    }
);
