//! `authorizer`: a JWT authorizer of an HTTP API (Cognito issuer and
//! audience). id = authorizer id.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::graph::{Node, Source};
use crate::spec::Spec;
use crate::model::*;
use crate::provider::aws::{err, Aws, AwsError};
use crate::provider::common::*;
use crate::provider::kind::resource_kind;

use aws_sdk_apigatewayv2::types::{AuthorizerType, JwtConfiguration};

use super::{api_child, create_child, list_pages, no_retry, read_child, read_children, with_api};

pub const KIND: Kind = Kind::named("authorizer");

pub const FORCE_NEW: &[&str] = &["api_id", "type"];

/// The attributes of a authorizer from any response that describes one (Get*,
/// Create*, Update*): the same accessors on different types.
macro_rules! authorizer_attrs {
    ($a:expr) => {{
        let a = $a;
        let mut audience: Vec<String> = a.jwt_configuration().map(|j| j.audience().to_vec()).unwrap_or_default();
        audience.sort();
        json!({
            "name": a.name(),
            "type": a.authorizer_type().map(|t| t.as_str()),
            "identity_source": a.identity_source(),
            "issuer": a.jwt_configuration().and_then(|j| j.issuer()),
            "audience": audience,
        })
        .as_object()
        .cloned()
        .unwrap_or_default()
    }};
}

pub fn address(api: &str, name: &str) -> String {
    format!("authorizer.{api}.{name}")
}

/// One node per authorizer of each API, after the API.
pub fn nodes(spec: &Spec) -> Vec<Node> {
    let per_api = spec.apis.iter().flat_map(|(api, a)| a.authorizers.keys().map(move |name| (api, name)));
    per_api
        .map(|(api, name)| {
            let mut deps = vec![super::api::address(api)];
            if let Some(auth) = spec.apis.get(api).and_then(|a| a.authorizers.get(name)) {
                deps.extend(pool_addresses(auth));
            }
            Node::new(address(api, name), KIND, deps, Source::part(api, name))
        })
        .collect()
}

/// The user pool and clients an authorizer's issuer and audience come from.
fn pool_addresses(auth: &crate::spec::AuthorizerSpec) -> Vec<String> {
    let Some(pool) = &auth.user_pool else { return Vec::new() };
    let clients = auth.clients.iter().map(|c| crate::provider::cognito::client::address(pool, c));
    std::iter::once(crate::provider::cognito::user_pool::address(pool)).chain(clients).collect()
}

pub fn desired(env: &Env, node: &Node) -> Attrs {
    let (api, name) = (&node.source.name, node.source.part.as_deref().unwrap_or_default());
    let Some(auth) = env.spec.apis.get(api).and_then(|a| a.authorizers.get(name)) else { return Attrs::new() };
    let (issuer, audience) = match &auth.user_pool {
        None => (json!(auth.issuer), json!(auth.audience)),
        Some(pool) => {
            let issuer = env.attr(&crate::provider::cognito::user_pool::address(pool), "issuer");
            let clients: Vec<Value> = auth.clients.iter().map(|c| env.id(&crate::provider::cognito::client::address(pool, c))).collect();
            let audience = match clients.iter().any(is_unknown) {
                true => json!(UNKNOWN),
                false => {
                    let mut ids: Vec<&str> = clients.iter().filter_map(Value::as_str).collect();
                    ids.sort();
                    json!(ids)
                }
            };
            (issuer, audience)
        }
    };
    json!({
        "api_id": env.id(&super::api::address(api)),
        "name": name,
        "type": "JWT",
        "identity_source": [auth.identity_source],
        "issuer": issuer,
        "audience": audience,
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

fn jwt(attrs: &Attrs) -> JwtConfiguration {
    JwtConfiguration::builder().issuer(s(attrs, "issuer")).set_audience(Some(strings(attrs, "audience"))).build()
}

pub async fn create(aws: &Aws, _address: &str, want: &Attrs) -> Result<Known, AwsError> {
    let api_id = s(want, "api_id");
    let name = s(want, "name");
    create_child(aws, &Authorizer, api_id, "apigateway:CreateAuthorizer", |a| s(a, "name") == name, || async {
        let out = aws
            .apigw
            .create_authorizer()
            .api_id(api_id)
            .name(name)
            .authorizer_type(AuthorizerType::Jwt)
            .set_identity_source(Some(strings(want, "identity_source")))
            .jwt_configuration(jwt(want))
            .customize()
            .config_override(no_retry())
            .send()
            .await?;
        Ok(Known { id: out.authorizer_id().unwrap_or_default().to_string(), attrs: with_api(authorizer_attrs!(&out), api_id) })
    },
    |id, have| async move { update(aws, &id, &have, want).await })
    .await
}

/// Every authorizer of one API: one paginated GetAuthorizers.
pub async fn list(aws: &Aws, api_id: &str) -> Result<Option<Vec<(String, Attrs)>>, AwsError> {
    list_pages(|token| async move {
        let out = aws.apigw.get_authorizers().api_id(api_id).set_next_token(token).send().await.map_err(err("apigateway:GetAuthorizers"))?;
        let page = out.items().iter().map(|x| (x.authorizer_id().unwrap_or_default().to_string(), observed(x))).collect();
        Ok((page, out.next_token().map(str::to_string)))
    })
    .await
}

pub async fn read(aws: &Aws, items: &[ReadItem]) -> Result<HashMap<String, Option<Attrs>>, AwsError> {
    read_children(aws, &Authorizer, items).await
}

pub fn observed(a: &aws_sdk_apigatewayv2::types::Authorizer) -> Attrs {
    authorizer_attrs!(a)
}

pub async fn update(aws: &Aws, id: &str, before: &Attrs, after: &Attrs) -> Result<Attrs, AwsError> {
    let api_id = s(after, "api_id");
    if ["name", "identity_source", "issuer", "audience"].iter().any(|k| changed(before, after, k)) {
        let out = aws.apigw
            .update_authorizer()
            .api_id(api_id)
            .authorizer_id(id)
            .name(s(after, "name"))
            .set_identity_source(Some(strings(after, "identity_source")))
            .jwt_configuration(jwt(after))
            .send()
            .await
            .map_err(err("apigateway:UpdateAuthorizer"))?;
        return Ok(with_api(authorizer_attrs!(&out), api_id));
    }
    read_child(aws, &Authorizer, api_id, id).await
}

pub async fn delete(aws: &Aws, id: &str, attrs: &Attrs) -> Result<(), AwsError> {
    aws.apigw.delete_authorizer().api_id(s(attrs, "api_id")).authorizer_id(id).send().await.map_err(err("apigateway:DeleteAuthorizer"))?;
    Ok(())
}

/// The `authorizer` kind.
pub(crate) struct Authorizer;

resource_kind!(Authorizer, KIND, create(aws, address, want, _token) => create(aws, address, want),
    api_child!();

    fn natural_key(&self, attrs: &Attrs) -> Option<String> {
        attrs.get("name").and_then(Value::as_str).map(str::to_string)
    }

    /// API Gateway refuses to delete what a route still uses.
    fn delete_waits_on(&self) -> &'static [Kind] {
        &[super::route::KIND]
    }
);
