//! AWS Cloud Map: the HTTP namespace, service and instance a private
//! integration resolves the backend through (docs/design.md §8). What the
//! kinds share: waiting on Cloud Map's asynchronous operations, and tags.

pub(crate) mod instance;
pub(crate) mod namespace;
pub(crate) mod service;

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_servicediscovery::types::{OperationStatus, OperationTargetType, Tag};

use crate::model::{s, Attrs, Known};
use crate::provider::aws::{err, Aws, AwsError};
use crate::provider::common::{check_adoptable, tag_delta, tag_pairs, ReadItem};

/// How long an operation (namespace creation, registration) may take.
const OPERATION_WITHIN: Duration = Duration::from_secs(300);

/// Waits for a Cloud Map operation to succeed and returns its targets
/// (namespace, service, instance ids). A failed one is an error with AWS's reason.
pub async fn wait_operation(aws: &Aws, operation_id: &str) -> Result<HashMap<OperationTargetType, String>, AwsError> {
    let start = Instant::now();
    let mut wait = Duration::from_millis(200);
    loop {
        let out = aws.cloudmap.get_operation().operation_id(operation_id).send().await.map_err(err("servicediscovery:GetOperation"))?;
        let op = out.operation();
        match op.and_then(|o| o.status()) {
            Some(OperationStatus::Success) => return Ok(op.and_then(|o| o.targets()).cloned().unwrap_or_default()),
            Some(OperationStatus::Fail) => {
                let why = op.and_then(|o| o.error_message()).unwrap_or("no reason given");
                return Err(AwsError::other("servicediscovery:GetOperation", format!("Cloud Map operation {operation_id} failed: {why}")));
            }
            _ if start.elapsed() + wait < OPERATION_WITHIN => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            _ => return Err(AwsError::other("servicediscovery:GetOperation", format!("Cloud Map operation {operation_id} did not finish within {} s", OPERATION_WITHIN.as_secs()))),
        }
    }
}

pub fn tags(attrs: &Attrs) -> Vec<Tag> {
    tag_pairs(attrs).into_iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect()
}

/// The tags of a namespace or service, as the `tags` attribute.
pub async fn read_tags(aws: &Aws, arn: &str) -> Result<serde_json::Value, AwsError> {
    let out = aws.cloudmap.list_tags_for_resource().resource_arn(arn).send().await.map_err(err("servicediscovery:ListTagsForResource"))?;
    Ok(crate::provider::common::tags_value(out.tags().iter().map(|t| (t.key(), t.value()))))
}

/// A namespace or service as `get` reads it (its `arn` among the
/// attributes), with its tags: read beside it when the state records the ARN
/// (`known_arn`), after it otherwise.
pub async fn read_tagged<G>(aws: &Aws, known_arn: &str, get: G) -> Result<Option<Attrs>, AwsError>
where
    G: Future<Output = Result<Option<Attrs>, AwsError>>,
{
    let early = async {
        match known_arn {
            "" => None,
            arn => Some(read_tags(aws, arn).await),
        }
    };
    let (got, early) = futures::join!(get, early);
    let Some(mut attrs) = got? else { return Ok(None) };
    let arn = s(&attrs, "arn").to_string();
    let tags = match early {
        Some(tags) if arn == known_arn => tags?,
        _ => read_tags(aws, &arn).await?,
    };
    attrs.insert("tags".into(), tags);
    Ok(Some(attrs))
}

/// What a namespace or service create ends with: the id made, or after
/// `already` (AWS's "exists" answer) the one `find` gives if this stack made
/// it for `address` (anything else is refused); then tagged and read back.
pub async fn settle<F, Fut, R, RFut>(aws: &Aws, made: Result<String, AwsError>, already: &str, what: &str, address: &str, want: &Attrs, find: F, read: R) -> Result<Known, AwsError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Option<Known>, AwsError>>,
    R: Fn(String) -> RFut,
    RFut: Future<Output = Result<Option<Attrs>, AwsError>>,
{
    let id = match made {
        Ok(id) => id,
        Err(e) if e.is(already) => {
            let operation = e.operation;
            let existing = find().await?.ok_or(e)?;
            check_adoptable(&existing.attrs, want, operation, &format!("a Cloud Map {what} named {}", s(want, "name")), address)?;
            existing.id
        }
        Err(e) => return Err(e),
    };
    let current = read(id.clone()).await?.ok_or_else(|| AwsError::other("servicediscovery:Get", format!("{what} {id} vanished after create")))?;
    let attrs = retag(aws, &id, &current, want, what, read).await?;
    Ok(Known { id, attrs })
}

/// Brings a namespace's or service's tags to `after` and reads it back.
pub async fn retag<R, RFut>(aws: &Aws, id: &str, before: &Attrs, after: &Attrs, what: &str, read: R) -> Result<Attrs, AwsError>
where
    R: Fn(String) -> RFut,
    RFut: Future<Output = Result<Option<Attrs>, AwsError>>,
{
    let arn = match s(before, "arn") {
        "" => read(id.to_string()).await?.map(|a| s(&a, "arn").to_string()).unwrap_or_default(),
        arn => arn.to_string(),
    };
    update_tags(aws, &arn, before, after).await?;
    read(id.to_string()).await?.ok_or_else(|| AwsError::other("servicediscovery:Get", format!("{what} {id} vanished while being updated")))
}

/// Reads each item with `read`, given its id and the ARN the state records,
/// concurrently.
pub async fn read_each<R, RFut>(items: &[ReadItem], read: R) -> Result<HashMap<String, Option<Attrs>>, AwsError>
where
    R: Fn(String, String) -> RFut,
    RFut: Future<Output = Result<Option<Attrs>, AwsError>>,
{
    let reads = items.iter().map(|item| {
        let read = &read;
        async move { read(item.id.clone(), s(&item.attrs, "arn").to_string()).await.map(|a| (item.address.clone(), a)) }
    });
    futures::future::try_join_all(reads).await.map(|v| v.into_iter().collect())
}

/// TagResource / UntagResource for the difference in `tags`.
pub async fn update_tags(aws: &Aws, arn: &str, before: &Attrs, after: &Attrs) -> Result<(), AwsError> {
    let (set, unset) = tag_delta(before, after);
    if !set.is_empty() {
        let tags = set.into_iter().filter_map(|(k, v)| Tag::builder().key(k).value(v.as_str().unwrap_or("")).build().ok());
        aws.cloudmap.tag_resource().resource_arn(arn).set_tags(Some(tags.collect())).send().await.map_err(err("servicediscovery:TagResource"))?;
    }
    if !unset.is_empty() && after.contains_key("tags") {
        aws.cloudmap.untag_resource().resource_arn(arn).set_tag_keys(Some(unset)).send().await.map_err(err("servicediscovery:UntagResource"))?;
    }
    Ok(())
}

/// The ARN pattern of the project region's Cloud Map `resource`
/// (`namespace/*`, `service/*`), in any account.
pub fn cloud_map(spec: &crate::spec::Spec, resource: &str) -> String {
    format!("arn:{}:servicediscovery:{}:*:{resource}", crate::provider::aws::partition(&spec.region), spec.region)
}
