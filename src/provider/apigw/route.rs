//! `route`: one route of an HTTP API, targeting its integration, with the JWT
//! authorizer or none. id = route id.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::graph::{Node, Source};
use crate::spec::Spec;
use crate::model::*;
use crate::provider::aws::{err, Aws, AwsError};
use crate::provider::common::*;
use crate::provider::kind::resource_kind;

use aws_sdk_apigatewayv2::types::AuthorizationType;

use super::{api_child, create_child, list_pages, no_retry, read_child, read_children, with_api};

pub const KIND: Kind = Kind::named("route");

pub const FORCE_NEW: &[&str] = &["api_id", "route_key"];

/// The attributes of a route from any response that describes one (Get*,
/// Create*, Update*): the same accessors on different types.
macro_rules! route_attrs {
    ($r:expr) => {{
        let r = $r;
        let auth = r.authorization_type().map(|t| t.as_str()).unwrap_or("NONE");
        json!({
            "route_key": r.route_key(),
            "target": r.target(),
            "authorization_type": auth,
            "authorizer_id": r.authorizer_id().filter(|id| !id.is_empty()),
        })
        .as_object()
        .cloned()
        .unwrap_or_default()
    }};
}

pub fn address(api: &str, route: &str) -> String {
    format!("route.{api}[\"{route}\"]")
}

/// One node per route of each API, after the API's integration and the
/// route's authorizer.
pub fn nodes(spec: &Spec) -> Vec<Node> {
    let per_api = spec.apis.iter().flat_map(|(api, a)| a.routes.iter().map(move |(key, route)| (api, key, route)));
    let node = |(api, key, route): (&String, &String, &crate::spec::RouteSpec)| {
        let mut deps = vec![super::api::address(api), super::integration::address(api)];
        deps.extend(route.authorizer.iter().map(|auth| super::authorizer::address(api, auth)));
        Node::new(address(api, key), KIND, deps, Source::part(api, key))
    };
    per_api.map(node).collect()
}

pub fn desired(env: &Env, node: &Node) -> Attrs {
    let (api, route) = (&node.source.name, node.source.part.as_deref().unwrap_or_default());
    let Some(spec_route) = env.spec.apis.get(api).and_then(|a| a.routes.get(route)) else { return Attrs::new() };
    let integration = env.id(&super::integration::address(api));
    let target = match integration.as_str() {
        Some(id) if !is_unknown(&integration) => json!(format!("integrations/{id}")),
        _ => json!(UNKNOWN),
    };
    let (auth_type, authorizer) = match &spec_route.authorizer {
        Some(name) => ("JWT", env.id(&super::authorizer::address(api, name))),
        None => ("NONE", Value::Null),
    };
    json!({
        "api_id": env.id(&super::api::address(api)),
        "route_key": route,
        "target": target,
        "authorization_type": auth_type,
        "authorizer_id": authorizer,
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

fn auth_type(attrs: &Attrs) -> AuthorizationType {
    AuthorizationType::from(s(attrs, "authorization_type"))
}

pub async fn create(aws: &Aws, _address: &str, want: &Attrs) -> Result<Known, AwsError> {
    let api_id = s(want, "api_id");
    let key = s(want, "route_key");
    create_child(aws, &Route, api_id, "apigateway:CreateRoute", |a| s(a, "route_key") == key, || async {
        let out = aws
            .apigw
            .create_route()
            .api_id(api_id)
            .route_key(key)
            .target(s(want, "target"))
            .authorization_type(auth_type(want))
            .set_authorizer_id(want.get("authorizer_id").and_then(Value::as_str).map(str::to_string))
            .customize()
            .config_override(no_retry())
            .send()
            .await?;
        Ok(Known { id: out.route_id().unwrap_or_default().to_string(), attrs: with_api(route_attrs!(&out), api_id) })
    },
    |id, have| async move { update(aws, &id, &have, want).await })
    .await
}

/// Every route of one API: one paginated GetRoutes.
pub async fn list(aws: &Aws, api_id: &str) -> Result<Option<Vec<(String, Attrs)>>, AwsError> {
    list_pages(|token| async move {
        let out = aws.apigw.get_routes().api_id(api_id).set_next_token(token).send().await.map_err(err("apigateway:GetRoutes"))?;
        let page = out.items().iter().map(|x| (x.route_id().unwrap_or_default().to_string(), observed(x))).collect();
        Ok((page, out.next_token().map(str::to_string)))
    })
    .await
}

pub async fn read(aws: &Aws, items: &[ReadItem]) -> Result<HashMap<String, Option<Attrs>>, AwsError> {
    read_children(aws, &Route, items).await
}

pub fn observed(r: &aws_sdk_apigatewayv2::types::Route) -> Attrs {
    route_attrs!(r)
}

pub async fn update(aws: &Aws, id: &str, before: &Attrs, after: &Attrs) -> Result<Attrs, AwsError> {
    let api_id = s(after, "api_id");
    if ["target", "authorization_type", "authorizer_id"].iter().any(|k| changed(before, after, k)) {
        // Authorization NONE clears the authorizer; AWS wants no authorizer id with it.
        let out = aws.apigw
            .update_route()
            .api_id(api_id)
            .route_id(id)
            .target(s(after, "target"))
            .authorization_type(auth_type(after))
            .set_authorizer_id(after.get("authorizer_id").and_then(Value::as_str).map(str::to_string))
            .send()
            .await
            .map_err(err("apigateway:UpdateRoute"))?;
        return Ok(with_api(route_attrs!(&out), api_id));
    }
    read_child(aws, &Route, api_id, id).await
}

pub async fn delete(aws: &Aws, id: &str, attrs: &Attrs) -> Result<(), AwsError> {
    aws.apigw.delete_route().api_id(s(attrs, "api_id")).route_id(id).send().await.map_err(err("apigateway:DeleteRoute"))?;
    Ok(())
}

/// The `route` kind.
pub(crate) struct Route;

resource_kind!(Route, KIND, create(aws, address, want, _token) => create(aws, address, want),
    api_child!();

    fn natural_key(&self, attrs: &Attrs) -> Option<String> {
        attrs.get("route_key").and_then(Value::as_str).map(str::to_string)
    }
);
