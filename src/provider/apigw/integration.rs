//! `integration`: the API's HTTP_PROXY integration, forwarding every route
//! to the backend instance's public DNS. The parameter mapping
//! `overwrite:path = $request.path` keeps the request path, so
//! `ANY /jobs/{proxy+}` reaches `http://<dns>/jobs/...` through one
//! integration for all routes. id = integration id.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::graph::{Node, Source};
use crate::spec::Spec;
use crate::model::*;
use crate::provider::aws::{err, Aws, AwsError};
use crate::provider::common::*;
use crate::provider::kind::resource_kind;

use aws_sdk_apigatewayv2::types::{ConnectionType, IntegrationType};

use super::{api_child, create_child, list_pages, no_retry, read_child, read_children, with_api};

pub const KIND: Kind = Kind::named("integration");

pub const FORCE_NEW: &[&str] = &["api_id", "type"];

/// The attributes of a integration from any response that describes one (Get*,
/// Create*, Update*): the same accessors on different types.
macro_rules! integration_attrs {
    ($i:expr) => {{
        let i = $i;
        json!({
            "type": i.integration_type().map(|t| t.as_str()),
            "method": i.integration_method(),
            "uri": i.integration_uri(),
            "payload_format_version": i.payload_format_version(),
            "request_parameters": i.request_parameters().cloned().unwrap_or_default(),
            "connection_type": i.connection_type().map(|t| t.as_str()).unwrap_or("INTERNET"),
            // Meaningful only for a private integration: an id left from one
            // is not a difference once the integration is public.
            "connection_id": i.connection_id().filter(|_| i.connection_type().is_some_and(|t| t.as_str() == "VPC_LINK")),
        })
        .as_object()
        .cloned()
        .unwrap_or_default()
    }};
}

/// Request parameter mapping that forwards the caller's path unchanged.
pub fn keep_path() -> Value {
    json!({"overwrite:path": "$request.path"})
}

pub fn address(api: &str) -> String {
    format!("integration.{api}")
}

/// One integration per API: to its backend instance's public address, or
/// with `vpc_link`, through the link to the Cloud Map service.
pub fn nodes(spec: &Spec) -> Vec<Node> {
    let node = |(api, a): (&String, &crate::spec::ApiSpec)| {
        let deps = match a.vpc_link {
            None => vec![super::api::address(api), crate::provider::ec2::instance::address(&a.backend)],
            Some(_) => vec![super::api::address(api), super::vpc_link::address(api), crate::provider::cloudmap::service::address(api)],
        };
        Node::new(address(api), KIND, deps, Source::entry(api))
    };
    spec.apis.iter().map(node).collect()
}

pub fn desired(env: &Env, node: &Node) -> Attrs {
    let api = &node.source.name;
    let Some(spec_api) = env.spec.apis.get(api) else { return Attrs::new() };
    let (uri, connection_type, connection_id) = match spec_api.vpc_link {
        Some(_) => {
            let service = env.attr(&crate::provider::cloudmap::service::address(api), "arn");
            (service, "VPC_LINK", env.id(&super::vpc_link::address(api)))
        }
        None => {
            let dns = env.attr(&crate::provider::ec2::instance::address(&spec_api.backend), "public_dns");
            let port = match spec_api.port {
                80 => String::new(),
                p => format!(":{p}"),
            };
            let uri = match dns.as_str() {
                Some(d) if !is_unknown(&dns) && !d.is_empty() => json!(format!("http://{d}{port}")),
                _ => json!(UNKNOWN),
            };
            (uri, "INTERNET", Value::Null)
        }
    };
    json!({
        "api_id": env.id(&super::api::address(api)),
        "type": "HTTP_PROXY",
        "method": "ANY",
        "uri": uri,
        "connection_type": connection_type,
        "connection_id": connection_id,
        "request_parameters": keep_path(),
        "payload_format_version": "1.0",
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

fn parameters(attrs: &Attrs) -> HashMap<String, String> {
    attrs
        .get("request_parameters")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())).collect())
        .unwrap_or_default()
}

/// An integration needs the backend's address: an instance in a subnet
/// that assigns no public IPv4 address, or in a VPC without DNS hostnames,
/// has none, and the placeholder must never reach AWS.
fn check_target(want: &Attrs, operation: &'static str) -> Result<(), AwsError> {
    if want.get("uri").is_none_or(is_unknown) {
        return Err(AwsError::other(
            operation,
            "the backend instance has no public DNS name to send requests to: launch it in a subnet that assigns public \
             IPv4 addresses, in a VPC with DNS hostnames enabled",
        ));
    }
    Ok(())
}

pub async fn create(aws: &Aws, _address: &str, want: &Attrs) -> Result<Known, AwsError> {
    check_target(want, "apigateway:CreateIntegration")?;
    let api_id = s(want, "api_id");
    let is_it = |a: &Attrs| ["uri", "method", "type"].iter().all(|k| a.get(*k) == want.get(*k));
    create_child(aws, &Integration, api_id, "apigateway:CreateIntegration", is_it, || async {
        let out = aws
            .apigw
            .create_integration()
            .api_id(api_id)
            .integration_type(IntegrationType::HttpProxy)
            .integration_method(s(want, "method"))
            .integration_uri(s(want, "uri"))
            .connection_type(ConnectionType::from(s(want, "connection_type")))
            .set_connection_id(want.get("connection_id").and_then(Value::as_str).map(str::to_string))
            .payload_format_version(s(want, "payload_format_version"))
            .set_request_parameters(Some(parameters(want)))
            .customize()
            .config_override(no_retry())
            .send()
            .await?;
        Ok(Known { id: out.integration_id().unwrap_or_default().to_string(), attrs: with_api(integration_attrs!(&out), api_id) })
    },
    |id, have| async move { update(aws, &id, &have, want).await })
    .await
}

/// Every integration of one API: one paginated GetIntegrations.
pub async fn list(aws: &Aws, api_id: &str) -> Result<Option<Vec<(String, Attrs)>>, AwsError> {
    list_pages(|token| async move {
        let out = aws.apigw.get_integrations().api_id(api_id).set_next_token(token).send().await.map_err(err("apigateway:GetIntegrations"))?;
        let page = out.items().iter().map(|x| (x.integration_id().unwrap_or_default().to_string(), observed(x))).collect();
        Ok((page, out.next_token().map(str::to_string)))
    })
    .await
}

pub async fn read(aws: &Aws, items: &[ReadItem]) -> Result<HashMap<String, Option<Attrs>>, AwsError> {
    read_children(aws, &Integration, items).await
}

pub fn observed(i: &aws_sdk_apigatewayv2::types::Integration) -> Attrs {
    integration_attrs!(i)
}

pub async fn update(aws: &Aws, id: &str, before: &Attrs, after: &Attrs) -> Result<Attrs, AwsError> {
    let api_id = s(after, "api_id");
    if ["method", "uri", "payload_format_version", "request_parameters", "connection_type", "connection_id"].iter().any(|k| changed(before, after, k)) {
        check_target(after, "apigateway:UpdateIntegration")?;
        let out = aws.apigw
            .update_integration()
            .api_id(api_id)
            .integration_id(id)
            .integration_method(s(after, "method"))
            .integration_uri(s(after, "uri"))
            .connection_type(ConnectionType::from(s(after, "connection_type")))
            .set_connection_id(after.get("connection_id").and_then(Value::as_str).map(str::to_string))
            .payload_format_version(s(after, "payload_format_version"))
            .set_request_parameters(Some(parameters(after)))
            .send()
            .await
            .map_err(err("apigateway:UpdateIntegration"))?;
        return Ok(with_api(integration_attrs!(&out), api_id));
    }
    read_child(aws, &Integration, api_id, id).await
}

pub async fn delete(aws: &Aws, id: &str, attrs: &Attrs) -> Result<(), AwsError> {
    aws.apigw.delete_integration().api_id(s(attrs, "api_id")).integration_id(id).send().await.map_err(err("apigateway:DeleteIntegration"))?;
    Ok(())
}

/// The `integration` kind.
pub(crate) struct Integration;

resource_kind!(Integration, KIND, create(aws, address, want, _token) => create(aws, address, want),
    api_child!();

    /// An integration is recognised by its target: the backend's address.
    fn natural_key(&self, attrs: &Attrs) -> Option<String> {
        attrs.get("uri").filter(|v| !is_unknown(v)).and_then(Value::as_str).map(str::to_string)
    }

    /// Named by id: its target may be long, or anyone's.
    fn unmanaged_address(&self, parent: &str, id: &str, _attrs: &Attrs) -> String {
        let name = parent.split_once('.').map(|(_, n)| n).unwrap_or(parent);
        format!("integration.{name}[\"{id}\"]")
    }

    /// API Gateway refuses to delete what a route still uses.
    fn delete_waits_on(&self) -> &'static [Kind] {
        &[super::route::KIND]
    }
);
