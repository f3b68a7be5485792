//! API Gateway v2: the HTTP API and its children, and what they share:
//! paging, tags, and creates that are never repeated blindly.

pub(crate) mod api;
pub(crate) mod authorizer;
pub(crate) mod integration;
pub(crate) mod route;
pub(crate) mod stage;
pub(crate) mod vpc_link;

use std::collections::{BTreeMap, HashMap};

use serde_json::json;

use crate::model::{s, Attrs, Known};
use crate::provider::aws::{create_once, err, Aws, AwsError, Once};
use crate::provider::common::{tag_delta, ReadItem};
use crate::provider::kind::ResourceKind;

/// The methods of a kind that lives inside an API: its parent, and its
/// listing (the file's `list`) with the API's id added.
macro_rules! api_child {
    () => {
        fn parent(&self) -> Option<$crate::provider::kind::Parent> {
            Some($crate::provider::kind::Parent { kind: $crate::provider::apigw::api::KIND, id_attr: "api_id" })
        }

        fn list_in<'a>(
            &'a self,
            aws: &'a $crate::provider::aws::Aws,
            parent_id: &'a str,
            _known: &'a [String],
        ) -> $crate::provider::kind::Call<'a, Option<Vec<(String, $crate::model::Attrs)>>> {
            Box::pin(async move { Ok($crate::provider::apigw::in_api(list(aws, parent_id).await?, parent_id)) })
        }
    };
}
use api_child;

/// The ARN API Gateway tags an API by.
pub fn arn(region: &str, api_id: &str) -> String {
    format!("arn:{}:apigateway:{region}::/apis/{api_id}", crate::provider::aws::partition(region))
}

/// TagResource / UntagResource for the difference in `tags`.
pub async fn update_tags(aws: &Aws, arn: &str, before: &Attrs, after: &Attrs) -> Result<(), AwsError> {
    let (set, unset) = tag_delta(before, after);
    if !set.is_empty() {
        let tags: HashMap<String, String> = set.into_iter().map(|(k, v)| (k, v.as_str().unwrap_or("").to_string())).collect();
        aws.apigw.tag_resource().resource_arn(arn).set_tags(Some(tags)).send().await.map_err(err("apigateway:TagResource"))?;
    }
    if !unset.is_empty() && after.contains_key("tags") {
        aws.apigw.untag_resource().resource_arn(arn).set_tag_keys(Some(unset)).send().await.map_err(err("apigateway:UntagResource"))?;
    }
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
    kind: &dyn ResourceKind,
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
        let children = kind.list_in(aws, api_id, &[]).await?.unwrap_or_default();
        Ok::<_, AwsError>(children.into_iter().find(|(_, attrs)| is_it(attrs)))
    };
    let adopt = |(id, have): (String, Attrs)| async move {
        let attrs = update(id.clone(), have).await?;
        Ok(Known { id, attrs })
    };
    match create_once(operation, false, find, create).await {
        Ok(Once::Made(made)) => Ok(made),
        Ok(Once::Found(found)) => adopt(found).await,
        Err(e) => {
            let exists = e.is("ConflictException") || (e.is("BadRequestException") && e.message.contains("already exists"));
            match if exists { find().await? } else { None } {
                Some(found) => adopt(found).await,
                None => Err(e),
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

/// Children listed by `list`, each with the API's id as `api_id`.
pub fn in_api(listed: Option<Vec<(String, Attrs)>>, api_id: &str) -> Option<Vec<(String, Attrs)>> {
    listed.map(|items| items.into_iter().map(|(id, attrs)| (id, with_api(attrs, api_id))).collect())
}

/// Reads API children of one kind: one paginated list call per API, matched
/// to the items by id.
pub async fn read_children(aws: &Aws, kind: &dyn ResourceKind, items: &[ReadItem]) -> Result<HashMap<String, Option<Attrs>>, AwsError> {
    let groups = by_api(items);
    let lists = groups.keys().map(|api_id| async move { Ok::<_, AwsError>((api_id.clone(), kind.list_in(aws, api_id, &[]).await?)) });
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
pub async fn read_child(aws: &Aws, kind: &dyn ResourceKind, api_id: &str, id: &str) -> Result<Attrs, AwsError> {
    let children = kind.list_in(aws, api_id, &[]).await?.unwrap_or_default();
    children
        .into_iter()
        .find(|(child, _)| child == id)
        .map(|(_, attrs)| attrs)
        .ok_or_else(|| AwsError::other("apigateway:Get", format!("{} {id} of API {api_id} not found after writing it", kind.kind())))
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
