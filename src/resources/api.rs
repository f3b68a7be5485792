//! `api`: an API Gateway HTTP API. id = API id. Also the per-API batched
//! reads its routes, integrations, authorizers and stages share.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_apigatewayv2::types::ProtocolType;
use serde_json::json;

use super::*;
use crate::aws::{err, Aws, AwsError};
use crate::graph::{Node, Source};

pub const FORCE_NEW: &[&str] = &["protocol_type"];

pub fn desired(env: &Env, node: &Node) -> Attrs {
    let Source::Api(name) = &node.source else { return Attrs::new() };
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

pub fn arn(region: &str, api_id: &str) -> String {
    format!("arn:aws:apigateway:{region}::/apis/{api_id}")
}

pub async fn create(aws: &Aws, _address: &str, want: &Attrs) -> Result<Known, AwsError> {
    let tags: HashMap<String, String> = tag_pairs(want).into_iter().collect();
    let out = aws
        .apigw
        .create_api()
        .name(s(want, "name"))
        .protocol_type(ProtocolType::Http)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(err("apigateway:CreateApi"))?;
    let id = out.api_id().unwrap_or_default().to_string();
    let attrs = read_one(aws, &id).await?.ok_or_else(|| AwsError::other("apigateway:GetApi", format!("API {id} vanished after create")))?;
    Ok(Known { id, attrs })
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
        "arn": arn(&aws.region, id),
        "tags": tags,
    })
    .as_object()
    .cloned())
}

pub async fn update(aws: &Aws, id: &str, before: &Attrs, after: &Attrs) -> Result<Attrs, AwsError> {
    if changed(before, after, "name") {
        aws.apigw.update_api().api_id(id).name(s(after, "name")).send().await.map_err(err("apigateway:UpdateApi"))?;
    }
    update_tags(aws, &arn(&aws.region, id), before, after).await?;
    read_one(aws, id).await?.ok_or_else(|| AwsError::other("apigateway:GetApi", format!("API {id} vanished while being updated")))
}

/// TagResource / UntagResource for the difference in `tags`.
pub async fn update_tags(aws: &Aws, arn: &str, before: &Attrs, after: &Attrs) -> Result<(), AwsError> {
    let (set, unset) = map_delta(before, after, "tags");
    if !set.is_empty() {
        let tags: HashMap<String, String> = set.into_iter().map(|(k, v)| (k, v.as_str().unwrap_or("").to_string())).collect();
        aws.apigw.tag_resource().resource_arn(arn).set_tags(Some(tags)).send().await.map_err(err("apigateway:TagResource"))?;
    }
    if !unset.is_empty() && after.contains_key("tags") {
        aws.apigw.untag_resource().resource_arn(arn).set_tag_keys(Some(unset)).send().await.map_err(err("apigateway:UntagResource"))?;
    }
    Ok(())
}

pub async fn delete(aws: &Aws, id: &str, _attrs: &Attrs) -> Result<(), AwsError> {
    aws.apigw.delete_api().api_id(id).send().await.map_err(err("apigateway:DeleteApi"))?;
    Ok(())
}

/// Groups read items by the API they belong to (`api_id` attribute).
pub fn by_api(items: &[ReadItem]) -> BTreeMap<String, Vec<&ReadItem>> {
    let mut out: BTreeMap<String, Vec<&ReadItem>> = BTreeMap::new();
    for item in items {
        out.entry(s(&item.attrs, "api_id").to_string()).or_default().push(item);
    }
    out
}

/// Reads the children of each API in `items` with one paginated list call per
/// API (`list` fetches one page from a token), and matches them to the items by
/// id. An API that no longer exists makes its children `None`.
pub async fn read_children<F, Fut>(items: &[ReadItem], list: F) -> Result<HashMap<String, Option<Attrs>>, AwsError>
where
    F: Fn(String, Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<(String, Attrs)>, Option<String>), AwsError>>,
{
    let groups = by_api(items);
    let lists = groups.iter().map(|(api_id, _)| {
        let list = &list;
        async move {
            let mut all: HashMap<String, Attrs> = HashMap::new();
            let mut token = None;
            loop {
                match list(api_id.clone(), token).await {
                    Ok((page, next)) => {
                        all.extend(page);
                        match next {
                            Some(t) if !t.is_empty() => token = Some(t),
                            _ => break,
                        }
                    }
                    Err(e) if e.is_not_found() => break,
                    Err(e) => return Err(e),
                }
            }
            Ok::<_, AwsError>((api_id.clone(), all))
        }
    });
    let mut found: HashMap<String, HashMap<String, Attrs>> = futures::future::try_join_all(lists).await?.into_iter().collect();
    let mut out = HashMap::new();
    for (api_id, group) in groups {
        let children = found.entry(api_id.clone()).or_default();
        for item in group {
            let attrs = children.remove(&item.id).map(|mut a| {
                a.insert("api_id".into(), json!(api_id));
                a
            });
            out.insert(item.address.clone(), attrs);
        }
    }
    Ok(out)
}
