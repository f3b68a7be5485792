//! What every kind's file shares: the inputs of desired attributes, read
//! requests, and the helpers that compare and carry tags and attributes.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};

use crate::model::{made_for, Attrs, Known, Lookups, UNKNOWN};
use crate::provider::aws::AwsError;
use crate::spec::Spec;

/// What desired attributes are computed from.
pub struct Env<'a> {
    pub spec: &'a Spec,
    pub lookups: &'a Lookups,
    pub known: &'a HashMap<String, Known>,
}

impl Env<'_> {
    /// The id of the resource at `address`, or [`UNKNOWN`] until it exists.
    pub fn id(&self, address: &str) -> Value {
        self.known.get(address).map(|k| Value::String(k.id.clone())).unwrap_or_else(|| json!(UNKNOWN))
    }

    /// An attribute of the resource at `address`, or [`UNKNOWN`].
    pub fn attr(&self, address: &str, key: &str) -> Value {
        self.known
            .get(address)
            .and_then(|k| k.attrs.get(key).cloned())
            .unwrap_or_else(|| json!(UNKNOWN))
    }

    /// The spec's tags plus gwctl's own, as a JSON object.
    pub fn tags(&self, address: &str, extra: &[(&str, String)]) -> Value {
        let mut tags: BTreeMap<String, String> = self.spec.tags.clone();
        tags.insert("gwctl:project".into(), self.spec.project.clone());
        tags.insert("gwctl:address".into(), address.to_string());
        for (k, v) in extra {
            tags.insert(k.to_string(), v.clone());
        }
        json!(tags)
    }
}

/// One resource to read: its address, id and last recorded attributes.
#[derive(Debug, Clone)]
pub struct ReadItem {
    pub address: String,
    pub id: String,
    pub attrs: Attrs,
}

/// A create found a resource of the same name already there. It is adopted
/// only if this stack made it for this address (an interrupted run): both
/// gwctl tags must match; anything else is refused, never taken over.
pub fn check_adoptable(existing: &Attrs, want: &Attrs, operation: &'static str, what: &str, address: &str) -> Result<(), AwsError> {
    if made_for(existing, want) {
        return Ok(());
    }
    Err(AwsError::other(
        operation,
        format!("{what} already exists and is not managed by {address} of this project; rename or delete it in AWS, or `gwctl import` it"),
    ))
}

pub fn tag_pairs(attrs: &Attrs) -> Vec<(String, String)> {
    attrs
        .get("tags")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())).collect())
        .unwrap_or_default()
}

/// The answers for every one of `listed`: those already read beside the
/// list (`early`, for what the state recorded), the rest read now with `read`.
pub async fn read_rest<T, Fut>(listed: &[String], early: Vec<(String, T)>, read: impl Fn(String) -> Fut) -> HashMap<String, T>
where
    Fut: std::future::Future<Output = (String, T)>,
{
    let mut answers: HashMap<String, T> = early.into_iter().collect();
    let late = futures::future::join_all(listed.iter().filter(|id| !answers.contains_key(*id)).cloned().map(read)).await;
    answers.extend(late);
    answers
}

pub fn tags_value<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Value {
    let map: BTreeMap<&str, &str> = pairs.collect();
    json!(map)
}

/// Keys added or changed, and keys removed, going from `before[key]` to `after[key]` (objects).
pub fn map_delta(before: &Attrs, after: &Attrs, key: &str) -> (Vec<(String, Value)>, Vec<String>) {
    let empty = serde_json::Map::new();
    let b = before.get(key).and_then(Value::as_object).unwrap_or(&empty);
    let a = after.get(key).and_then(Value::as_object).unwrap_or(&empty);
    let set = a.iter().filter(|(k, v)| b.get(*k) != Some(v)).map(|(k, v)| (k.clone(), v.clone())).collect();
    let removed = b.keys().filter(|k| !a.contains_key(*k)).cloned().collect();
    (set, removed)
}

/// Tags to set and to remove going from `before` to `after`. A non-empty set
/// also carries the gwctl ownership tags `after` has, changed or not: the
/// apply policy allows tagging (a tag update too) only by a request that
/// tags the resource for the project (`aws:RequestTag/gwctl:project`).
pub fn tag_delta(before: &Attrs, after: &Attrs) -> (Vec<(String, Value)>, Vec<String>) {
    let (mut set, unset) = map_delta(before, after, "tags");
    if !set.is_empty() {
        for key in ["gwctl:project", "gwctl:address"] {
            if let Some(v) = after.get("tags").and_then(|t| t.get(key)) {
                if !set.iter().any(|(k, _)| k == key) {
                    set.push((key.to_string(), v.clone()));
                }
            }
        }
    }
    (set, unset)
}

/// Elements added and removed going from `before[key]` to `after[key]` (arrays as sets).
pub fn set_delta(before: &Attrs, after: &Attrs, key: &str) -> (Vec<Value>, Vec<Value>) {
    let empty = Vec::new();
    let b = before.get(key).and_then(Value::as_array).unwrap_or(&empty);
    let a = after.get(key).and_then(Value::as_array).unwrap_or(&empty);
    let added = a.iter().filter(|v| !b.contains(v)).cloned().collect();
    let removed = b.iter().filter(|v| !a.contains(v)).cloned().collect();
    (added, removed)
}

pub fn changed(before: &Attrs, after: &Attrs, key: &str) -> bool {
    after.contains_key(key) && before.get(key) != after.get(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn only_what_this_project_made_for_this_address_is_adopted() {
        let want: Attrs = serde_json::from_value(json!({"tags": {"gwctl:project": "p", "gwctl:address": "log_group.a"}})).unwrap();
        let ours = want.clone();
        let other_project: Attrs = serde_json::from_value(json!({"tags": {"gwctl:project": "q", "gwctl:address": "log_group.a"}})).unwrap();
        let untagged: Attrs = serde_json::from_value(json!({"tags": {}})).unwrap();
        assert!(check_adoptable(&ours, &want, "op", "x", "log_group.a").is_ok());
        assert!(check_adoptable(&other_project, &want, "op", "x", "log_group.a").is_err());
        assert!(check_adoptable(&untagged, &want, "op", "x", "log_group.a").is_err());
    }

    #[test]
    fn a_tag_update_carries_the_ownership_tags_and_no_update_sends_none() {
        let before: Attrs = serde_json::from_value(json!({"tags": {"Team": "a", "gwctl:project": "p", "gwctl:address": "api.main"}})).unwrap();
        let after: Attrs = serde_json::from_value(json!({"tags": {"Team": "b", "gwctl:project": "p", "gwctl:address": "api.main"}})).unwrap();
        let (set, unset) = tag_delta(&before, &after);
        assert_eq!(set, vec![("Team".to_string(), json!("b")), ("gwctl:project".to_string(), json!("p")), ("gwctl:address".to_string(), json!("api.main"))]);
        assert!(unset.is_empty());
        assert_eq!(tag_delta(&after, &after), (vec![], vec![]));
    }

    #[test]
    fn deltas_list_what_to_add_and_remove() {
        let before: Attrs = serde_json::from_value(json!({"tags":{"a":"1","b":"2"},"p":["x","y"]})).unwrap();
        let after: Attrs = serde_json::from_value(json!({"tags":{"a":"1","b":"3","c":"4"},"p":["y","z"]})).unwrap();
        let (set, removed) = map_delta(&before, &after, "tags");
        assert_eq!(set, vec![("b".to_string(), json!("3")), ("c".to_string(), json!("4"))]);
        assert!(removed.is_empty());
        let (added, gone) = set_delta(&before, &after, "p");
        assert_eq!((added, gone), (vec![json!("z")], vec![json!("x")]));
    }
}
