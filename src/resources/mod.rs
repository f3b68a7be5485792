//! The resource kinds. Each kind's file has the same order: desired
//! attributes (and which force replacement), create, read, update, delete.
//! This module holds what they share and dispatches over [`Kind`].

pub mod iam_role;
pub mod instance;
pub mod instance_profile;
pub mod log_group;
pub mod security_group;
pub mod api;
pub mod authorizer;
pub mod integration;
pub mod route;
pub mod stage;

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};

use crate::aws::{Aws, AwsError};
use crate::graph::{Kind, Node};
use crate::spec::Spec;

/// A resource's attributes: what the spec manages, plus what AWS reports
/// (ARNs, addresses) for outputs and dependents.
pub type Attrs = serde_json::Map<String, Value>;

/// The value of an attribute that depends on a resource not yet created.
pub const UNKNOWN: &str = "(known after apply)";

pub fn is_unknown(v: &Value) -> bool {
    v.as_str() == Some(UNKNOWN)
}

/// A resource that exists, as far as the plan or apply knows.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Known {
    pub id: String,
    pub attrs: Attrs,
}

/// Values looked up in AWS before planning: VPCs and AMI ids.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Lookups {
    /// security group address → the VPC it belongs in when the spec names none:
    /// the one recorded for an existing group, else the default VPC.
    pub vpcs: HashMap<String, String>,
    /// instance address → AMI id (resolved from SSM, or pinned in state).
    pub amis: HashMap<String, String>,
}

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

/// The attributes whose change makes AWS need a new resource.
pub fn force_new(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::IamRole => iam_role::FORCE_NEW,
        Kind::InstanceProfile => instance_profile::FORCE_NEW,
        Kind::SecurityGroup => security_group::FORCE_NEW,
        Kind::Instance => instance::FORCE_NEW,
        Kind::LogGroup => log_group::FORCE_NEW,
        Kind::Api => api::FORCE_NEW,
        Kind::Authorizer => authorizer::FORCE_NEW,
        Kind::Integration => integration::FORCE_NEW,
        Kind::Route => route::FORCE_NEW,
        Kind::Stage => stage::FORCE_NEW,
    }
}

/// The attributes the spec wants for `node`. Reads, through `env`, only the
/// resources in `node.deps`: the applier provides just those.
pub fn desired(env: &Env, node: &Node) -> Attrs {
    match node.kind {
        Kind::IamRole => iam_role::desired(env, node),
        Kind::InstanceProfile => instance_profile::desired(env, node),
        Kind::SecurityGroup => security_group::desired(env, node),
        Kind::Instance => instance::desired(env, node),
        Kind::LogGroup => log_group::desired(env, node),
        Kind::Api => api::desired(env, node),
        Kind::Authorizer => authorizer::desired(env, node),
        Kind::Integration => integration::desired(env, node),
        Kind::Route => route::desired(env, node),
        Kind::Stage => stage::desired(env, node),
    }
}

/// Creates the resource and returns its id and attributes as read back.
/// `token` is the idempotency token recorded in the state before the call.
pub async fn create(aws: &Aws, kind: Kind, address: &str, want: &Attrs, token: &str) -> Result<Known, AwsError> {
    match kind {
        Kind::IamRole => iam_role::create(aws, address, want).await,
        Kind::InstanceProfile => instance_profile::create(aws, address, want).await,
        Kind::SecurityGroup => security_group::create(aws, address, want).await,
        Kind::Instance => instance::create(aws, address, want, token).await,
        Kind::LogGroup => log_group::create(aws, address, want).await,
        Kind::Api => api::create(aws, address, want).await,
        Kind::Authorizer => authorizer::create(aws, address, want).await,
        Kind::Integration => integration::create(aws, address, want).await,
        Kind::Route => route::create(aws, address, want).await,
        Kind::Stage => stage::create(aws, address, want).await,
    }
}

/// Finds the live resource this project made for `address` that the state
/// does not record (a lost state file, `gwctl state rm`, a run killed before
/// it saved): by name or tags, and only if both gwctl tags say it is this
/// address of this project. API children are matched by natural key in
/// the planner instead (they take no tags).
pub async fn find(aws: &Aws, kind: Kind, address: &str, want: &Attrs) -> Result<Option<Known>, AwsError> {
    let found = match kind {
        Kind::IamRole => iam_role::find(aws, want).await?,
        Kind::InstanceProfile => instance_profile::find(aws, want).await?,
        Kind::SecurityGroup => security_group::find(aws, address, want).await?,
        Kind::Instance => instance::find(aws, address, want).await?,
        Kind::LogGroup => log_group::find(aws, want).await?,
        Kind::Api => api::find(aws, address, want).await?,
        Kind::Authorizer | Kind::Integration | Kind::Route | Kind::Stage => None,
    };
    Ok(found.filter(|k| made_for(&k.attrs, want)))
}

/// Whether `existing` carries the same `gwctl:project` and `gwctl:address`
/// tags as `want`: made by this project for this address.
pub fn made_for(existing: &Attrs, want: &Attrs) -> bool {
    let tag = |a: &Attrs, k: &str| a.get("tags").and_then(|t| t.get(k)).cloned();
    ["gwctl:project", "gwctl:address"].iter().all(|k| tag(existing, k).is_some() && tag(existing, k) == tag(want, k))
}

/// One resource to read: its address, id and last recorded attributes.
#[derive(Debug, Clone)]
pub struct ReadItem {
    pub address: String,
    pub id: String,
    pub attrs: Attrs,
}

/// Reads many resources of one kind in as few calls as the API allows.
/// A resource that no longer exists maps to `None`.
pub async fn read(aws: &Aws, kind: Kind, items: &[ReadItem]) -> Result<HashMap<String, Option<Attrs>>, AwsError> {
    if items.is_empty() {
        return Ok(HashMap::new());
    }
    match kind {
        Kind::IamRole => iam_role::read(aws, items).await,
        Kind::InstanceProfile => instance_profile::read(aws, items).await,
        Kind::SecurityGroup => security_group::read(aws, items).await,
        Kind::Instance => instance::read(aws, items).await,
        Kind::LogGroup => log_group::read(aws, items).await,
        Kind::Api => api::read(aws, items).await,
        Kind::Authorizer => authorizer::read(aws, items).await,
        Kind::Integration => integration::read(aws, items).await,
        Kind::Route => route::read(aws, items).await,
        Kind::Stage => stage::read(aws, items).await,
    }
}

/// Changes the resource in place from `before` to `after`; returns the
/// attributes as read back.
pub async fn update(aws: &Aws, kind: Kind, id: &str, before: &Attrs, after: &Attrs) -> Result<Attrs, AwsError> {
    match kind {
        Kind::IamRole => iam_role::update(aws, id, before, after).await,
        Kind::InstanceProfile => instance_profile::update(aws, id, before, after).await,
        Kind::SecurityGroup => security_group::update(aws, id, before, after).await,
        Kind::Instance => instance::update(aws, id, before, after).await,
        Kind::LogGroup => log_group::update(aws, id, before, after).await,
        Kind::Api => api::update(aws, id, before, after).await,
        Kind::Authorizer => authorizer::update(aws, id, before, after).await,
        Kind::Integration => integration::update(aws, id, before, after).await,
        Kind::Route => route::update(aws, id, before, after).await,
        Kind::Stage => stage::update(aws, id, before, after).await,
    }
}

/// Deletes the resource; one already gone counts as deleted.
pub async fn delete(aws: &Aws, kind: Kind, id: &str, attrs: &Attrs) -> Result<(), AwsError> {
    let result = match kind {
        Kind::IamRole => iam_role::delete(aws, id, attrs).await,
        Kind::InstanceProfile => instance_profile::delete(aws, id, attrs).await,
        Kind::SecurityGroup => security_group::delete(aws, id, attrs).await,
        Kind::Instance => instance::delete(aws, id, attrs).await,
        Kind::LogGroup => log_group::delete(aws, id, attrs).await,
        Kind::Api => api::delete(aws, id, attrs).await,
        Kind::Authorizer => authorizer::delete(aws, id, attrs).await,
        Kind::Integration => integration::delete(aws, id, attrs).await,
        Kind::Route => route::delete(aws, id, attrs).await,
        Kind::Stage => stage::delete(aws, id, attrs).await,
    };
    match result {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

/// Looks up the values desired attributes need from AWS: the default VPC for
/// security groups the spec gives no `vpc_id` (asked only when such a group
/// is to be created; an existing group keeps the VPC it was made in) and AMIs
/// named by SSM parameters. An AMI resolved before is pinned: while the spec
/// names the same source, the recorded id is used, so a new AMI release does
/// not replace the instance.
pub async fn lookups(aws: &Aws, spec: &Spec, state: &crate::state::State) -> Result<Lookups, AwsError> {
    let mut vpcs = HashMap::new();
    let mut need_default = Vec::new();
    for (name, group) in &spec.security_groups {
        if group.vpc_id.is_some() {
            continue;
        }
        let address = crate::graph::address::security_group(name);
        match state.get(&address).map(|r| s(&r.attributes, "vpc_id")).filter(|v| !v.is_empty()) {
            Some(vpc) => {
                vpcs.insert(address, vpc.to_string());
            }
            None => need_default.push(address),
        }
    }
    let vpc = async {
        if need_default.is_empty() {
            Ok(None)
        } else {
            security_group::default_vpc(aws).await.map(Some)
        }
    };
    let amis = instance::resolve_amis(aws, spec, state);
    let (vpc, amis) = futures::join!(vpc, amis);
    if let Some(default) = vpc? {
        vpcs.extend(need_default.into_iter().map(|a| (a, default.clone())));
    }
    Ok(Lookups { vpcs, amis: amis? })
}

// ---- helpers shared by the kinds -------------------------------------------

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

/// The project a resource's `gwctl:project` tag names, if it has one.
pub fn project_tag(attrs: &Attrs) -> Option<&str> {
    attrs.get("tags").and_then(|t| t.get("gwctl:project")).and_then(Value::as_str)
}

pub fn s<'a>(attrs: &'a Attrs, key: &str) -> &'a str {
    attrs.get(key).and_then(Value::as_str).unwrap_or("")
}

pub fn tag_pairs(attrs: &Attrs) -> Vec<(String, String)> {
    attrs
        .get("tags")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())).collect())
        .unwrap_or_default()
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

/// An IAM policy document in a normal form, so that documents AWS and a
/// person write differently but mean the same compare equal: one-element
/// lists and single values, statement order, and list order within a statement.
pub fn normalize_policy(doc: &Value) -> Value {
    const LISTY: &[&str] = &["Statement", "Action", "NotAction", "Resource", "NotResource"];
    fn walk(v: &Value, key: Option<&str>, in_principal: bool) -> Value {
        match v {
            Value::Object(m) => {
                let mut out = serde_json::Map::new();
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                for k in keys {
                    let principal = k == "Principal" || k == "NotPrincipal";
                    out.insert(k.clone(), walk(&m[k], Some(k), principal));
                }
                Value::Object(out)
            }
            Value::Array(items) => {
                let mut out: Vec<Value> = items.iter().map(|i| walk(i, None, false)).collect();
                out.sort_by_key(|i| i.to_string());
                out.dedup();
                if out.len() == 1 && !matches!(key, Some(k) if LISTY.contains(&k)) && !in_principal {
                    return out.remove(0);
                }
                Value::Array(out)
            }
            Value::String(s) if matches!(key, Some(k) if LISTY.contains(&k)) || in_principal => {
                Value::Array(vec![Value::String(s.clone())])
            }
            other => other.clone(),
        }
    }
    let mut v = walk(doc, None, false);
    if let Some(stmt) = v.get_mut("Statement") {
        if stmt.is_object() {
            *stmt = Value::Array(vec![stmt.clone()]);
        }
    }
    v
}

/// Parses a policy document as IAM returns it (URL-encoded JSON).
pub fn parse_policy(text: &str) -> Value {
    let decoded = urlencoding::decode(text).map(|c| c.into_owned()).unwrap_or_else(|_| text.to_string());
    serde_json::from_str(&decoded).map(|v| normalize_policy(&v)).unwrap_or(Value::String(decoded))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_forms_aws_returns_compare_equal_to_the_spec() {
        let written = json!({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":["arn:aws:s3:::b/*"]}});
        let returned = json!({"Statement":[{"Resource":"arn:aws:s3:::b/*","Action":["s3:GetObject"],"Effect":"Allow"}],"Version":"2012-10-17"});
        assert_eq!(normalize_policy(&written), normalize_policy(&returned));
        let other = json!({"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:GetObject","Resource":"*"}]});
        assert_ne!(normalize_policy(&written), normalize_policy(&other));
    }

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
    fn url_encoded_policies_parse() {
        let v = parse_policy("%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D");
        assert_eq!(v["Version"], "2012-10-17");
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
