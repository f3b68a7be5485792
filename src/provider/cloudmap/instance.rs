//! `cloudmap_instance`: the backend instance registered in the Cloud Map
//! service, by its private IPv4 address (which survives stop/start) and
//! port. id = the EC2 instance id, which is also the Cloud Map instance id.
//! A replaced backend is registered before the old one is deregistered, so
//! the service never has zero instances.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::graph::{Node, Source};
use crate::model::*;
use crate::provider::aws::{err, Aws, AwsError};
use crate::provider::common::*;
use crate::provider::kind::{resource_kind, Call, Parent};
use crate::spec::Spec;

pub const KIND: Kind = Kind::named("cloudmap_instance");

pub const FORCE_NEW: &[&str] = &["service_id", "instance_id"];

pub fn address(api: &str) -> String {
    format!("cloudmap_instance.{api}")
}

/// The backend of each API that declares `vpc_link`, registered in its service.
pub fn nodes(spec: &Spec) -> Vec<Node> {
    let node = |(api, a): (&String, &crate::spec::ApiSpec)| {
        a.vpc_link.as_ref()?;
        let deps = vec![super::service::address(api), crate::provider::ec2::instance::address(&a.backend)];
        Some(Node::new(address(api), KIND, deps, Source::entry(api)))
    };
    spec.apis.iter().filter_map(node).collect()
}

pub fn desired(env: &Env, node: &Node) -> Attrs {
    let api = &node.source.name;
    let Some(spec_api) = env.spec.apis.get(api) else { return Attrs::new() };
    let instance = crate::provider::ec2::instance::address(&spec_api.backend);
    json!({
        "service_id": env.id(&super::service::address(api)),
        "instance_id": env.id(&instance),
        "ipv4": env.attr(&instance, "private_ip"),
        "port": spec_api.port.to_string(),
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

fn attributes(want: &Attrs) -> HashMap<String, String> {
    HashMap::from([("AWS_INSTANCE_IPV4".to_string(), s(want, "ipv4").to_string()), ("AWS_INSTANCE_PORT".to_string(), s(want, "port").to_string())])
}

/// RegisterInstance creates or updates the instance of that id: repeating it
/// after a lost answer is harmless.
async fn register(aws: &Aws, want: &Attrs, token: &str) -> Result<Attrs, AwsError> {
    if ["ipv4", "instance_id", "service_id"].iter().any(|k| want.get(*k).is_none_or(|v| is_unknown(v) || v.as_str().unwrap_or("").is_empty())) {
        return Err(AwsError::other("servicediscovery:RegisterInstance", "the backend instance has no private IPv4 address yet"));
    }
    let out = aws
        .cloudmap
        .register_instance()
        .service_id(s(want, "service_id"))
        .instance_id(s(want, "instance_id"))
        .creator_request_id(token)
        .set_attributes(Some(attributes(want)))
        .send()
        .await
        .map_err(err("servicediscovery:RegisterInstance"))?;
    super::wait_operation(aws, out.operation_id().unwrap_or_default()).await?;
    read_one(aws, s(want, "service_id"), s(want, "instance_id"))
        .await?
        .ok_or_else(|| AwsError::other("servicediscovery:GetInstance", format!("instance {} not registered after RegisterInstance", s(want, "instance_id"))))
}

pub async fn create(aws: &Aws, want: &Attrs, token: &str) -> Result<Known, AwsError> {
    let attrs = register(aws, want, token).await?;
    Ok(Known { id: s(want, "instance_id").to_string(), attrs })
}

fn observed(service_id: &str, instance: &aws_sdk_servicediscovery::types::Instance) -> Attrs {
    let attr = |k: &str| instance.attributes().and_then(|a| a.get(k)).cloned();
    json!({
        "service_id": service_id,
        "instance_id": instance.id(),
        "ipv4": attr("AWS_INSTANCE_IPV4"),
        "port": attr("AWS_INSTANCE_PORT"),
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

async fn read_one(aws: &Aws, service_id: &str, id: &str) -> Result<Option<Attrs>, AwsError> {
    match aws.cloudmap.get_instance().service_id(service_id).instance_id(id).send().await.map_err(err("servicediscovery:GetInstance")) {
        Ok(out) => Ok(out.instance().map(|i| observed(service_id, i))),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

pub async fn read(aws: &Aws, items: &[ReadItem]) -> Result<HashMap<String, Option<Attrs>>, AwsError> {
    let reads = items.iter().map(|item| async move { read_one(aws, s(&item.attrs, "service_id"), &item.id).await.map(|a| (item.address.clone(), a)) });
    futures::future::try_join_all(reads).await.map(|v| v.into_iter().collect())
}

/// Every instance registered in the service; `None` when the service is gone.
async fn list(aws: &Aws, service_id: &str) -> Result<Option<Vec<(String, Attrs)>>, AwsError> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = match aws.cloudmap.list_instances().service_id(service_id).set_next_token(token).send().await.map_err(err("servicediscovery:ListInstances")) {
            Ok(page) => page,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        for summary in page.instances() {
            let attr = |k: &str| summary.attributes().and_then(|a| a.get(k)).cloned();
            let attrs = json!({"service_id": service_id, "instance_id": summary.id(), "ipv4": attr("AWS_INSTANCE_IPV4"), "port": attr("AWS_INSTANCE_PORT")});
            out.push((summary.id().unwrap_or_default().to_string(), attrs.as_object().cloned().unwrap_or_default()));
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(Some(out));
        }
    }
}

pub async fn update(aws: &Aws, _id: &str, _before: &Attrs, after: &Attrs) -> Result<Attrs, AwsError> {
    register(aws, after, &uuid::Uuid::new_v4().to_string()).await
}

pub async fn delete(aws: &Aws, id: &str, attrs: &Attrs) -> Result<(), AwsError> {
    let out = aws.cloudmap.deregister_instance().service_id(s(attrs, "service_id")).instance_id(id).send().await.map_err(err("servicediscovery:DeregisterInstance"))?;
    super::wait_operation(aws, out.operation_id().unwrap_or_default()).await?;
    Ok(())
}

/// The `cloudmap_instance` kind.
pub(crate) struct Instance;

resource_kind!(Instance, KIND, create(_aws, _address, want, token) => create(_aws, want, token),
    fn parent(&self) -> Option<Parent> {
        Some(Parent { kind: super::service::KIND, id_attr: "service_id" })
    }

    fn list_in<'a>(&'a self, aws: &'a Aws, parent_id: &'a str, _known: &'a [String]) -> Call<'a, Option<Vec<(String, Attrs)>>> {
        Box::pin(list(aws, parent_id))
    }

    /// A service has one registration per backend instance.
    fn natural_key(&self, attrs: &Attrs) -> Option<String> {
        attrs.get("instance_id").and_then(Value::as_str).filter(|v| *v != UNKNOWN).map(str::to_string)
    }

    fn create_before_destroy(&self) -> bool {
        true
    }

    fn grants(&self, spec: &Spec) -> Vec<crate::provider::kind::Grant> {
        use crate::provider::kind::{Grant, TagOn};
        use super::cloud_map;
        let star = || vec!["*".to_string()];
        vec![
            Grant::read("CloudMapRead", &["servicediscovery:GetInstance", "servicediscovery:ListInstances", "servicediscovery:GetOperation"], star()),
            Grant::write("CloudMapProjectServices", &["servicediscovery:RegisterInstance", "servicediscovery:DeregisterInstance"], vec![cloud_map(spec, "service/*")]).tagged(TagOn::Resource, &spec.project),
        ]
    }
);
