//! `log_group`: a CloudWatch Logs group with its retention. id = group name.

use std::collections::HashMap;

use serde_json::json;

use crate::graph::{Node, Source};
use crate::spec::Spec;
use crate::model::*;
use crate::provider::aws::{err, Aws, AwsError};
use crate::provider::common::*;
use crate::provider::kind::{resource_kind, Call};

pub const KIND: Kind = Kind::named("log_group");

pub const FORCE_NEW: &[&str] = &["name"];

pub fn address(name: &str) -> String {
    format!("log_group.{name}")
}

/// The nodes the spec declares of this kind.
pub fn nodes(spec: &Spec) -> Vec<Node> {
    spec.log_groups.keys().map(|name| Node::new(address(name), KIND, vec![], Source::entry(name))).collect()
}

pub fn desired(env: &Env, node: &Node) -> Attrs {
    let Some(lg) = env.spec.log_groups.get(&node.source.name) else { return Attrs::new() };
    json!({
        "name": lg.name,
        "retention_days": lg.retention_days,
        "tags": env.tags(&node.address, &[]),
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

pub async fn create(aws: &Aws, address: &str, want: &Attrs) -> Result<Known, AwsError> {
    let name = s(want, "name").to_string();
    let tags: HashMap<String, String> = tag_pairs(want).into_iter().collect();
    let created = aws.logs.create_log_group().log_group_name(&name).set_tags(Some(tags)).send().await.map_err(err("logs:CreateLogGroup"));
    let before = match created {
        Ok(_) => json!({"name": name, "retention_days": null, "tags": want.get("tags")}).as_object().cloned().unwrap_or_default(),
        Err(e) if e.is("ResourceAlreadyExistsException") => {
            let existing = read_names(aws, &[(name.clone(), None)]).await?.remove(&name).flatten().unwrap_or_default();
            check_adoptable(&existing, want, "logs:CreateLogGroup", &format!("a log group named {name}"), address)?;
            existing
        }
        Err(e) => return Err(e),
    };
    let attrs = update(aws, &name, &before, want).await?;
    Ok(Known { id: name, attrs })
}

/// The log group of the name `want` gives, if there is one.
pub async fn find(aws: &Aws, want: &Attrs) -> Result<Option<Known>, AwsError> {
    let name = s(want, "name").to_string();
    let found = read_names(aws, &[(name.clone(), None)]).await?.remove(&name).flatten();
    Ok(found.map(|attrs| Known { id: name, attrs }))
}

pub async fn read(aws: &Aws, items: &[ReadItem]) -> Result<HashMap<String, Option<Attrs>>, AwsError> {
    let names: Vec<(String, Option<String>)> = items.iter().map(|i| (i.id.clone(), Some(s(&i.attrs, "arn").to_string()).filter(|a| !a.is_empty()))).collect();
    let mut found = read_names(aws, &names).await?;
    Ok(items.iter().map(|i| (i.address.clone(), found.remove(&i.id).flatten())).collect())
}

/// Reads log groups by name: one paginated DescribeLogGroups per name
/// prefix, and ListTagsForResource beside it when the ARN is already known
/// (the state records it), after it otherwise.
async fn read_names(aws: &Aws, names: &[(String, Option<String>)]) -> Result<HashMap<String, Option<Attrs>>, AwsError> {
    let list_tags = |arn: String| async move { aws.logs.list_tags_for_resource().resource_arn(&arn).send().await.map_err(err("logs:ListTagsForResource")) };
    let lookups = names.iter().map(|(name, known_arn)| async move {
        let describe = async {
            let mut pages = aws.logs.describe_log_groups().log_group_name_prefix(name).into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(err("logs:DescribeLogGroups"))?;
                if let Some(g) = page.log_groups().iter().find(|g| g.log_group_name() == Some(name.as_str())) {
                    return Ok::<_, AwsError>(Some(g.clone()));
                }
            }
            Ok(None)
        };
        let early_tags = async {
            match known_arn {
                Some(arn) => Some((arn.clone(), list_tags(arn.clone()).await)),
                None => None,
            }
        };
        let (hit, early_tags) = futures::join!(describe, early_tags);
        let Some(group) = hit? else { return Ok::<_, AwsError>((name.clone(), None)) };
        let arn = group.arn().unwrap_or_default().trim_end_matches(":*").to_string();
        let tags = match early_tags {
            Some((known, tags)) if known == arn => tags?,
            _ => list_tags(arn.clone()).await?,
        };
        let tags = tags_value(tags.tags().into_iter().flatten().map(|(k, v)| (k.as_str(), v.as_str())));
        let attrs = json!({
            "name": name,
            "arn": arn,
            "retention_days": group.retention_in_days(),
            "tags": tags,
        });
        Ok((name.clone(), attrs.as_object().cloned()))
    });
    futures::future::try_join_all(lookups).await.map(|v| v.into_iter().collect())
}

pub async fn update(aws: &Aws, id: &str, before: &Attrs, after: &Attrs) -> Result<Attrs, AwsError> {
    if changed(before, after, "retention_days") {
        match after.get("retention_days").and_then(|v| v.as_i64()) {
            Some(days) => aws.logs.put_retention_policy().log_group_name(id).retention_in_days(days as i32).send().await.map(|_| ()).map_err(err("logs:PutRetentionPolicy"))?,
            None => aws.logs.delete_retention_policy().log_group_name(id).send().await.map(|_| ()).map_err(err("logs:DeleteRetentionPolicy"))?,
        }
    }
    let (set, unset) = map_delta(before, after, "tags");
    let arn_of = |attrs: &Attrs| s(attrs, "arn").to_string();
    let mut arn = arn_of(before);
    if (!set.is_empty() || !unset.is_empty()) && arn.is_empty() {
        arn = read_names(aws, &[(id.to_string(), None)]).await?.remove(id).flatten().map(|a| arn_of(&a)).unwrap_or_default();
    }
    if !set.is_empty() {
        let tags: HashMap<String, String> = set.into_iter().map(|(k, v)| (k, v.as_str().unwrap_or("").to_string())).collect();
        aws.logs.tag_resource().resource_arn(&arn).set_tags(Some(tags)).send().await.map_err(err("logs:TagResource"))?;
    }
    if !unset.is_empty() && after.contains_key("tags") {
        aws.logs.untag_resource().resource_arn(&arn).set_tag_keys(Some(unset)).send().await.map_err(err("logs:UntagResource"))?;
    }
    read_names(aws, &[(id.to_string(), None)])
        .await?
        .remove(id)
        .flatten()
        .ok_or_else(|| AwsError::other("logs:DescribeLogGroups", format!("log group {id} vanished while being updated")))
}

pub async fn delete(aws: &Aws, id: &str, _attrs: &Attrs) -> Result<(), AwsError> {
    aws.logs.delete_log_group().log_group_name(id).send().await.map_err(err("logs:DeleteLogGroup"))?;
    Ok(())
}

/// The `log_group` kind.
pub(crate) struct LogGroup;

resource_kind!(LogGroup, KIND, create(aws, address, want, _token) => create(aws, address, want),
    /// Access logs are the audit trail of who called the API: kept unless
    /// the spec says `retain_on_destroy = false` (as the CDK retains them).
    fn retained(&self, spec: &Spec, address: &str) -> bool {
        spec.log_groups.iter().any(|(name, lg)| lg.retain_on_destroy && self::address(name) == address)
    }

    fn find<'a>(&'a self, aws: &'a Aws, _address: &'a str, want: &'a Attrs) -> Call<'a, Option<Known>> {
        Box::pin(find(aws, want))
    }

    fn grants(&self, spec: &Spec) -> Vec<crate::provider::kind::Grant> {
        use crate::provider::kind::Grant;
        let (p, r) = (crate::provider::aws::partition(&spec.region), &spec.region);
        let groups: Vec<String> = spec.log_groups.values().flat_map(|g| [format!("arn:{p}:logs:{r}:*:log-group:{}", g.name), format!("arn:{p}:logs:{r}:*:log-group:{}:*", g.name)]).collect();
        vec![
            // DescribeLogGroups takes no resource narrower than `*`.
            Grant::read("LogsDescribe", &["logs:DescribeLogGroups"], vec!["*".into()]),
            Grant::read("LogsRead", &["logs:ListTagsForResource"], groups.clone()),
            Grant::verify("VerifyAccessLogLines", &["logs:FilterLogEvents"], groups.clone()),
            Grant::write("LogsWrite", &["logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy", "logs:TagResource", "logs:UntagResource"], groups),
        ]
    }
);
