//! `integration`: the HTTP_PROXY integration behind one route, forwarding to
//! the backend instance's public DNS and keeping the request path
//! (`ANY /jobs/{proxy+}` → `http://<dns>/jobs/{proxy}`). id = integration id.

use aws_sdk_apigatewayv2::types::IntegrationType;
use serde_json::json;

use super::api::read_children;
use super::*;
use crate::aws::{err, Aws, AwsError};
use crate::graph::{address, Node, Source};

pub const FORCE_NEW: &[&str] = &["api_id", "type"];

/// The integration method and the path of the backend URI for a route key.
pub fn method_and_path(route_key: &str) -> (String, String) {
    let Some((method, path)) = route_key.split_once(' ') else {
        return ("ANY".into(), "/{proxy}".into());
    };
    let path = path
        .split('/')
        .map(|seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix("+}")) {
            Some(name) => format!("{{{name}}}"),
            None => seg.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/");
    (method.to_string(), path)
}

pub fn desired(env: &Env, node: &Node) -> Attrs {
    let Source::Integration { api, route } = &node.source else { return Attrs::new() };
    let Some(spec_api) = env.spec.apis.get(api) else { return Attrs::new() };
    let dns = env.attr(&address::instance(&spec_api.backend), "public_dns");
    let (method, path) = method_and_path(route);
    let uri = match dns.as_str() {
        Some(d) if !is_unknown(&dns) && !d.is_empty() => json!(format!("http://{d}{path}")),
        _ => json!(UNKNOWN),
    };
    json!({
        "api_id": env.id(&address::api(api)),
        "type": "HTTP_PROXY",
        "method": method,
        "uri": uri,
        "payload_format_version": "1.0",
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

pub async fn create(aws: &Aws, _address: &str, want: &Attrs) -> Result<Known, AwsError> {
    let api_id = s(want, "api_id");
    let out = aws
        .apigw
        .create_integration()
        .api_id(api_id)
        .integration_type(IntegrationType::HttpProxy)
        .integration_method(s(want, "method"))
        .integration_uri(s(want, "uri"))
        .payload_format_version(s(want, "payload_format_version"))
        .send()
        .await
        .map_err(err("apigateway:CreateIntegration"))?;
    let id = out.integration_id().unwrap_or_default().to_string();
    let attrs = read_back(aws, api_id, &id).await?;
    Ok(Known { id, attrs })
}

async fn read_back(aws: &Aws, api_id: &str, id: &str) -> Result<Attrs, AwsError> {
    let item = ReadItem { address: String::new(), id: id.into(), attrs: json!({"api_id": api_id}).as_object().cloned().unwrap_or_default() };
    read(aws, std::slice::from_ref(&item))
        .await?
        .remove("")
        .flatten()
        .ok_or_else(|| AwsError::other("apigateway:GetIntegrations", format!("integration {id} of API {api_id} not found")))
}

/// One paginated GetIntegrations per API.
pub async fn read(aws: &Aws, items: &[ReadItem]) -> Result<HashMap<String, Option<Attrs>>, AwsError> {
    read_children(items, |api_id, token| async move {
        let out = aws.apigw.get_integrations().api_id(&api_id).set_next_token(token).send().await.map_err(err("apigateway:GetIntegrations"))?;
        let page = out.items().iter().map(|i| (i.integration_id().unwrap_or_default().to_string(), observed(i))).collect();
        Ok((page, out.next_token().map(str::to_string)))
    })
    .await
}

pub fn observed(i: &aws_sdk_apigatewayv2::types::Integration) -> Attrs {
    json!({
        "type": i.integration_type().map(|t| t.as_str()),
        "method": i.integration_method(),
        "uri": i.integration_uri(),
        "payload_format_version": i.payload_format_version(),
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

pub async fn update(aws: &Aws, id: &str, before: &Attrs, after: &Attrs) -> Result<Attrs, AwsError> {
    let api_id = s(after, "api_id");
    if ["method", "uri", "payload_format_version"].iter().any(|k| changed(before, after, k)) {
        aws.apigw
            .update_integration()
            .api_id(api_id)
            .integration_id(id)
            .integration_method(s(after, "method"))
            .integration_uri(s(after, "uri"))
            .payload_format_version(s(after, "payload_format_version"))
            .send()
            .await
            .map_err(err("apigateway:UpdateIntegration"))?;
    }
    read_back(aws, api_id, id).await
}

pub async fn delete(aws: &Aws, id: &str, attrs: &Attrs) -> Result<(), AwsError> {
    aws.apigw.delete_integration().api_id(s(attrs, "api_id")).integration_id(id).send().await.map_err(err("apigateway:DeleteIntegration"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::method_and_path;

    #[test]
    fn greedy_parameters_become_plain_ones_in_the_backend_path() {
        assert_eq!(method_and_path("ANY /jobs/{proxy+}"), ("ANY".into(), "/jobs/{proxy}".into()));
        assert_eq!(method_and_path("GET /health"), ("GET".into(), "/health".into()));
        assert_eq!(method_and_path("$default"), ("ANY".into(), "/{proxy}".into()));
    }
}
