//! AWS Cloud Map: the HTTP namespace, service and instance a private
//! integration resolves the backend through (docs/design.md §8). What the
//! kinds share: waiting on Cloud Map's asynchronous operations, and tags.

pub(crate) mod instance;
pub(crate) mod namespace;
pub(crate) mod service;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_servicediscovery::types::{OperationStatus, OperationTargetType, Tag};

use crate::model::Attrs;
use crate::provider::aws::{err, Aws, AwsError};
use crate::provider::common::{map_delta, tag_pairs};

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

/// TagResource / UntagResource for the difference in `tags`.
pub async fn update_tags(aws: &Aws, arn: &str, before: &Attrs, after: &Attrs) -> Result<(), AwsError> {
    let (set, unset) = map_delta(before, after, "tags");
    if !set.is_empty() {
        let tags = set.into_iter().filter_map(|(k, v)| Tag::builder().key(k).value(v.as_str().unwrap_or("")).build().ok());
        aws.cloudmap.tag_resource().resource_arn(arn).set_tags(Some(tags.collect())).send().await.map_err(err("servicediscovery:TagResource"))?;
    }
    if !unset.is_empty() && after.contains_key("tags") {
        aws.cloudmap.untag_resource().resource_arn(arn).set_tag_keys(Some(unset)).send().await.map_err(err("servicediscovery:UntagResource"))?;
    }
    Ok(())
}
