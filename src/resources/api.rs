//! `api`: an API Gateway HTTP API. id = API id. Also the per-API batched
//! reads its routes, integrations, authorizers and stages share.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_apigatewayv2::types::ProtocolType;
use serde_json::json;

use super::*;
use crate::aws::{err, Aws, AwsError};
use crate::graph::{Kind, Node, Source};

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

pub async fn create(aws: &Aws, address: &str, want: &Attrs) -> Result<Known, AwsError> {
    // API names are not unique in AWS: an API an interrupted run created is
    // found by its tags and adopted instead of creating a second one.
    // For the same reason the SDK does not retry CreateApi by itself: a retry
    // after a lost answer would make a second API. Each attempt here first
    // looks for the API the previous one may have made.
    let project = want.get("tags").and_then(|t| t.get("gwctl:project")).and_then(|v| v.as_str()).unwrap_or_default();
    let tags: HashMap<String, String> = tag_pairs(want).into_iter().collect();
    let mut attempt = 0;
    let id = loop {
        attempt += 1;
        if let Some(id) = find_tagged(aws, project, address).await? {
            let current = read_one(aws, &id).await?.unwrap_or_default();
            let attrs = update(aws, &id, &current, want).await?;
            return Ok(Known { id, attrs });
        }
        let created = aws
            .apigw
            .create_api()
            .name(s(want, "name"))
            .protocol_type(ProtocolType::Http)
            .set_tags(Some(tags.clone()))
            .customize()
            .config_override(aws_sdk_apigatewayv2::config::Config::builder().retry_config(aws_config::retry::RetryConfig::disabled()))
            .send()
            .await;
        match created {
            Ok(out) => break out.api_id().unwrap_or_default().to_string(),
            Err(e) if attempt < crate::aws::MAX_ATTEMPTS && crate::aws::is_transient(&e) => {
                tokio::time::sleep(crate::aws::backoff(attempt)).await;
            }
            Err(e) => return Err(err("apigateway:CreateApi")(e)),
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

/// The SDK configuration for calls that must not be repeated blindly.
pub fn no_retry() -> aws_sdk_apigatewayv2::config::Builder {
    aws_sdk_apigatewayv2::config::Config::builder().retry_config(aws_config::retry::RetryConfig::disabled())
}

/// Creates an API child (`create` must send with [`no_retry`]).
///
/// API Gateway takes no idempotency token: a retry after an answer that was
/// lost on the way back would make a second authorizer or integration, or be
/// refused for a route key or stage name the lost attempt already made. So
/// before each new attempt, and when AWS says the child already exists, the
/// API's children are listed and the one `is_it` recognises (its natural
/// key: route key, authorizer or stage name, integration target) is taken,
/// and brought to what is wanted with `update(id, its attributes)`.
pub async fn create_child<F, Fut, E, U, UFut>(
    aws: &Aws,
    kind: Kind,
    api_id: &str,
    operation: &'static str,
    is_it: impl Fn(&Attrs) -> bool,
    create: F,
    update: U,
) -> Result<Known, AwsError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Known, aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>>>,
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    U: FnOnce(String, Attrs) -> UFut,
    UFut: std::future::Future<Output = Result<Attrs, AwsError>>,
{
    let find = || async {
        let children = list_children(aws, kind, api_id).await?.unwrap_or_default();
        Ok::<_, AwsError>(children.into_iter().find(|(_, attrs)| is_it(attrs)))
    };
    let adopt = |(id, have): (String, Attrs)| async move {
        let attrs = update(id.clone(), have).await?;
        Ok(Known { id, attrs })
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        if attempt > 1 {
            if let Some(found) = find().await? {
                return adopt(found).await;
            }
        }
        match create().await {
            Ok(made) => return Ok(made),
            Err(e) if attempt < crate::aws::MAX_ATTEMPTS && crate::aws::is_transient(&e) => {
                tokio::time::sleep(crate::aws::backoff(attempt)).await;
            }
            Err(e) => {
                let e = err(operation)(e);
                let exists = e.is("ConflictException") || (e.is("BadRequestException") && e.message.contains("already exists"));
                if exists {
                    if let Some(found) = find().await? {
                        return adopt(found).await;
                    }
                }
                return Err(e);
            }
        }
    }
}

/// Groups read items by the API they belong to (`api_id` attribute).
pub fn by_api(items: &[ReadItem]) -> BTreeMap<String, Vec<&ReadItem>> {
    let mut out: BTreeMap<String, Vec<&ReadItem>> = BTreeMap::new();
    for item in items {
        out.entry(s(&item.attrs, "api_id").to_string()).or_default().push(item);
    }
    out
}

/// Follows NextToken through every page `page` returns, from the first.
/// `None` when the API itself does not exist.
pub async fn list_pages<F, Fut>(page: F) -> Result<Option<Vec<(String, Attrs)>>, AwsError>
where
    F: Fn(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<(String, Attrs)>, Option<String>), AwsError>>,
{
    let mut all = Vec::new();
    let mut token = None;
    loop {
        match page(token).await {
            Ok((items, next)) => {
                all.extend(items);
                match next {
                    Some(t) if !t.is_empty() => token = Some(t),
                    _ => return Ok(Some(all)),
                }
            }
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        }
    }
}

/// Every child of one kind in one API, with `api_id` set; `None` when the API is gone.
pub async fn list_children(aws: &Aws, kind: Kind, api_id: &str) -> Result<Option<Vec<(String, Attrs)>>, AwsError> {
    let listed = match kind {
        Kind::Route => super::route::list(aws, api_id).await?,
        Kind::Integration => super::integration::list(aws, api_id).await?,
        Kind::Authorizer => super::authorizer::list(aws, api_id).await?,
        Kind::Stage => super::stage::list(aws, api_id).await?,
        _ => return Ok(None),
    };
    Ok(listed.map(|items| {
        items
            .into_iter()
            .map(|(id, mut attrs)| {
                attrs.insert("api_id".into(), json!(api_id));
                (id, attrs)
            })
            .collect()
    }))
}

/// Reads API children of one kind: one paginated list call per API, matched
/// to the items by id.
pub async fn read_children(aws: &Aws, kind: Kind, items: &[ReadItem]) -> Result<HashMap<String, Option<Attrs>>, AwsError> {
    let groups = by_api(items);
    let lists = groups.keys().map(|api_id| async move { Ok::<_, AwsError>((api_id.clone(), list_children(aws, kind, api_id).await?)) });
    let found: HashMap<String, Option<Vec<(String, Attrs)>>> = futures::future::try_join_all(lists).await?.into_iter().collect();
    let mut out = HashMap::new();
    for (api_id, group) in groups {
        let children: HashMap<&str, &Attrs> =
            found.get(&api_id).and_then(|c| c.as_ref()).map(|c| c.iter().map(|(id, a)| (id.as_str(), a)).collect()).unwrap_or_default();
        for item in group {
            out.insert(item.address.clone(), children.get(item.id.as_str()).map(|a| (*a).clone()));
        }
    }
    Ok(out)
}

/// A child's attributes with the API it belongs to.
pub fn with_api(mut attrs: Attrs, api_id: &str) -> Attrs {
    attrs.insert("api_id".into(), json!(api_id));
    attrs
}

/// Reads one child back (after an update that changed nothing the response describes).
pub async fn read_child(aws: &Aws, kind: Kind, api_id: &str, id: &str) -> Result<Attrs, AwsError> {
    let children = list_children(aws, kind, api_id).await?.unwrap_or_default();
    children
        .into_iter()
        .find(|(child, _)| child == id)
        .map(|(_, attrs)| attrs)
        .ok_or_else(|| AwsError::other("apigateway:Get", format!("{kind} {id} of API {api_id} not found after writing it")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(from: usize, to: usize, next: Option<&str>) -> (Vec<(String, Attrs)>, Option<String>) {
        ((from..to).map(|i| (format!("r{i}"), Attrs::new())).collect(), next.map(str::to_string))
    }

    #[tokio::test]
    async fn pagination_is_followed_to_the_end() {
        let seen = std::sync::Mutex::new(Vec::new());
        let all = list_pages(|token: Option<String>| {
            seen.lock().unwrap().push(token.clone());
            async move {
                Ok(match token.as_deref() {
                    None => page(0, 25, Some("25")),
                    Some("25") => page(25, 50, Some("50")),
                    Some("50") => page(50, 60, None),
                    Some(other) => panic!("unexpected token {other}"),
                })
            }
        })
        .await
        .unwrap()
        .unwrap();
        let ids: Vec<String> = all.into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, (0..60).map(|i| format!("r{i}")).collect::<Vec<_>>());
        assert_eq!(*seen.lock().unwrap(), vec![None, Some("25".to_string()), Some("50".to_string())]);
    }

    #[tokio::test]
    async fn an_empty_next_token_ends_the_listing_and_a_missing_api_is_none() {
        let all = list_pages(|_token: Option<String>| async { Ok(page(0, 3, Some(""))) }).await.unwrap().unwrap();
        assert_eq!(all.len(), 3);
        let gone = list_pages(|_token: Option<String>| async {
            Err::<(Vec<(String, Attrs)>, Option<String>), _>(AwsError {
                operation: "apigateway:GetRoutes",
                code: Some("NotFoundException".into()),
                message: "Invalid API identifier".into(),
                request_id: None,
            })
        })
        .await
        .unwrap();
        assert!(gone.is_none());
    }
}
