//! `api`: an API Gateway HTTP API. id = API id. Also the per-API batched
//! reads its routes, integrations, authorizers and stages share.

use std::collections::HashMap;

use serde_json::json;

use crate::graph::{Node, Source};
use crate::spec::Spec;
use crate::model::*;
use crate::provider::aws::{create_once, err, Aws, AwsError, Once};
use crate::provider::common::*;
use crate::provider::kind::{resource_kind, Call};


use aws_sdk_apigatewayv2::types::ProtocolType;

pub const KIND: Kind = Kind::named("api");

pub const FORCE_NEW: &[&str] = &["protocol_type"];

pub fn address(name: &str) -> String {
    format!("api.{name}")
}

/// The nodes the spec declares of this kind.
pub fn nodes(spec: &Spec) -> Vec<Node> {
    spec.apis.keys().map(|name| Node::new(address(name), KIND, vec![], Source::entry(name))).collect()
}

pub fn desired(env: &Env, node: &Node) -> Attrs {
    let name = &node.source.name;
    let Some(api) = env.spec.apis.get(name) else { return Attrs::new() };
    json!({
        "name": api.name,
        "protocol_type": "HTTP",
        "tags": env.tags(&node.address, &[]),
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

pub async fn create(aws: &Aws, address: &str, want: &Attrs) -> Result<Known, AwsError> {
    // API names are not unique in AWS: an API an interrupted run created is
    // found by its tags and adopted instead of creating a second one.
    let project = want.get("tags").and_then(|t| t.get("gwctl:project")).and_then(|v| v.as_str()).unwrap_or_default();
    let tags: HashMap<String, String> = tag_pairs(want).into_iter().collect();
    let create = || {
        aws.apigw
            .create_api()
            .name(s(want, "name"))
            .protocol_type(ProtocolType::Http)
            .set_tags(Some(tags.clone()))
            .customize()
            .config_override(aws_sdk_apigatewayv2::config::Config::builder().retry_config(aws_config::retry::RetryConfig::disabled()))
            .send()
    };
    let id = match create_once("apigateway:CreateApi", true, || find_tagged(aws, project, address), create).await? {
        Once::Made(out) => out.api_id().unwrap_or_default().to_string(),
        Once::Found(id) => {
            let current = read_one(aws, &id).await?.unwrap_or_default();
            let attrs = update(aws, &id, &current, want).await?;
            return Ok(Known { id, attrs });
        }
    };
    let attrs = read_one(aws, &id).await?.ok_or_else(|| AwsError::other("apigateway:GetApi", format!("API {id} vanished after create")))?;
    Ok(Known { id, attrs })
}

async fn find_tagged(aws: &Aws, project: &str, address: &str) -> Result<Option<String>, AwsError> {
    let mut token = None;
    loop {
        let page = aws.apigw.get_apis().set_next_token(token).send().await.map_err(err("apigateway:GetApis"))?;
        let hit = page.items().iter().find(|a| {
            let tags = a.tags();
            tags.and_then(|t| t.get("gwctl:project")).map(String::as_str) == Some(project)
                && tags.and_then(|t| t.get("gwctl:address")).map(String::as_str) == Some(address)
        });
        if let Some(api) = hit {
            return Ok(api.api_id().map(str::to_string));
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(None);
        }
    }
}

/// The API tagged for this project and address, if there is one.
pub async fn find(aws: &Aws, address: &str, want: &Attrs) -> Result<Option<Known>, AwsError> {
    let Some(id) = find_tagged(aws, project_tag(want).unwrap_or_default(), address).await? else { return Ok(None) };
    Ok(read_one(aws, &id).await?.map(|attrs| Known { id, attrs }))
}

/// APIs tagged for `project` that are not `known`.
async fn scan_tagged(aws: &Aws, project: &str, known: &std::collections::HashSet<&str>) -> Result<Vec<(String, String)>, AwsError> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = aws.apigw.get_apis().set_next_token(token).send().await.map_err(err("apigateway:GetApis"))?;
        for a in page.items() {
            let tags = a.tags();
            let id = a.api_id().unwrap_or_default();
            if tags.and_then(|t| t.get("gwctl:project")).is_some_and(|p| p == project) && !known.contains(id) {
                let address = tags.and_then(|t| t.get("gwctl:address")).cloned().unwrap_or_else(|| id.to_string());
                out.push((address, id.to_string()));
            }
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

pub async fn read(aws: &Aws, items: &[ReadItem]) -> Result<HashMap<String, Option<Attrs>>, AwsError> {
    let reads = items.iter().map(|item| async move { read_one(aws, &item.id).await.map(|a| (item.address.clone(), a)) });
    futures::future::try_join_all(reads).await.map(|v| v.into_iter().collect())
}

async fn read_one(aws: &Aws, id: &str) -> Result<Option<Attrs>, AwsError> {
    let api = match aws.apigw.get_api().api_id(id).send().await.map_err(err("apigateway:GetApi")) {
        Ok(api) => api,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    let tags = tags_value(api.tags().into_iter().flatten().map(|(k, v)| (k.as_str(), v.as_str())));
    Ok(json!({
        "name": api.name(),
        "protocol_type": api.protocol_type().map(|p| p.as_str()),
        "api_endpoint": api.api_endpoint(),
        "arn": super::arn(&aws.region, id),
        "tags": tags,
    })
    .as_object()
    .cloned())
}

pub async fn update(aws: &Aws, id: &str, before: &Attrs, after: &Attrs) -> Result<Attrs, AwsError> {
    if changed(before, after, "name") {
        aws.apigw.update_api().api_id(id).name(s(after, "name")).send().await.map_err(err("apigateway:UpdateApi"))?;
    }
    super::update_tags(aws, &super::arn(&aws.region, id), before, after).await?;
    read_one(aws, id).await?.ok_or_else(|| AwsError::other("apigateway:GetApi", format!("API {id} vanished while being updated")))
}

pub async fn delete(aws: &Aws, id: &str, _attrs: &Attrs) -> Result<(), AwsError> {
    aws.apigw.delete_api().api_id(id).send().await.map_err(err("apigateway:DeleteApi"))?;
    Ok(())
}

/// The `api` kind.
pub(crate) struct Api;

resource_kind!(Api, KIND, create(aws, address, want, _token) => create(aws, address, want),
    fn find<'a>(&'a self, aws: &'a Aws, address: &'a str, want: &'a Attrs) -> Call<'a, Option<Known>> {
        Box::pin(find(aws, address, want))
    }

    fn scan_tagged<'a>(&'a self, aws: &'a Aws, project: &'a str, known: &'a std::collections::HashSet<&'a str>) -> Call<'a, Vec<(String, String)>> {
        Box::pin(scan_tagged(aws, project, known))
    }

    /// API Gateway's IAM actions are its HTTP methods on resource paths; an
    /// API's routes, integrations, authorizers, stages and deployments are
    /// under /apis/*, tags under /tags/*. An API is made only tagged for the
    /// project, and changed or deleted only while it is. Its parts take no
    /// tags of their own and do not inherit the API's for access control
    /// (only REST APIs' parts do: "API Gateway resources that can be
    /// tagged"), so they are reached by path, in any API. Tags are set only
    /// by requests that tag for the project, and gwctl's own are never removed.
    fn grants(&self, spec: &Spec) -> Vec<crate::provider::kind::Grant> {
        use crate::provider::kind::{Grant, TagOn};
        let base = format!("arn:{}:apigateway:{}::", crate::provider::aws::partition(&spec.region), spec.region);
        let paths = vec![format!("{base}/apis"), format!("{base}/apis/*"), format!("{base}/tags/*")];
        vec![
            Grant::read("ApiGatewayRead", &["apigateway:GET"], paths),
            Grant::write("ApiGatewayCreateApi", &["apigateway:POST"], vec![format!("{base}/apis")]).tagged(TagOn::Request, &spec.project),
            Grant::write("ApiGatewayProjectApis", &["apigateway:PATCH", "apigateway:DELETE"], vec![format!("{base}/apis/*")]).tagged(TagOn::Resource, &spec.project),
            Grant::write("ApiGatewayApiParts", &["apigateway:POST", "apigateway:PATCH", "apigateway:DELETE"], vec![format!("{base}/apis/*/*")]),
            Grant::write("ApiGatewayTag", &["apigateway:POST"], vec![format!("{base}/tags/*")]).tagged(TagOn::Request, &spec.project),
            Grant::write("ApiGatewayUntag", &["apigateway:DELETE"], vec![format!("{base}/tags/*")]).when(crate::provider::kind::keeps_gwctl_tags()),
        ]
    }
);
