//! Attributes: what the engine knows of a resource, as JSON (as Terraform's
//! core keeps them); each kind reads and writes them at its boundary.

use std::collections::HashMap;

use serde_json::Value;

/// A resource's attributes: what the spec manages, plus what AWS reports
/// (ARNs, addresses) for outputs and dependents.
pub type Attrs = serde_json::Map<String, Value>;

/// The value of an attribute that depends on a resource not yet created.
pub const UNKNOWN: &str = "(known after apply)";

/// Among wanted attributes: the ids of the resources the new one replaces
/// (set aside in the state, still to be deleted). A kind never adopts one
/// of them for the new one, and names the new one apart when names are unique.
pub const REPLACES: &str = "_replaces";

/// Marks `want` as replacing the resources `ids` (nothing when there are none).
pub fn set_replaces(want: &mut Attrs, ids: Vec<String>) {
    if !ids.is_empty() {
        want.insert(REPLACES.into(), Value::from(ids));
    }
}

/// The ids in `want`'s [`REPLACES`].
pub fn replaces(want: &Attrs) -> Vec<&str> {
    want.get(REPLACES).and_then(Value::as_array).map(|ids| ids.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

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
    /// VPC link address → the subnets it spans when the spec names none:
    /// those recorded for an existing link, else the default VPC's default
    /// subnets.
    #[serde(default)]
    pub subnets: HashMap<String, Vec<String>>,
}

/// The value of the tag `key` among a resource's `tags`, if it has it.
pub fn tag<'a>(attrs: &'a Attrs, key: &str) -> Option<&'a str> {
    attrs.get("tags").and_then(|t| t.get(key)).and_then(Value::as_str)
}

/// The project a resource's `gwctl:project` tag names, if it has one.
pub fn project_tag(attrs: &Attrs) -> Option<&str> {
    tag(attrs, "gwctl:project")
}

/// A list-of-strings attribute; empty when absent.
pub fn strings(attrs: &Attrs, key: &str) -> Vec<String> {
    attrs.get(key).and_then(Value::as_array).map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()).unwrap_or_default()
}

/// Whether `existing` carries the same `gwctl:project` and `gwctl:address`
/// tags as `want`: made by this project for this address.
pub fn made_for(existing: &Attrs, want: &Attrs) -> bool {
    let tag = |a: &Attrs, k: &str| a.get("tags").and_then(|t| t.get(k)).cloned();
    ["gwctl:project", "gwctl:address"].iter().all(|k| tag(existing, k).is_some() && tag(existing, k) == tag(want, k))
}

pub fn s<'a>(attrs: &'a Attrs, key: &str) -> &'a str {
    attrs.get(key).and_then(Value::as_str).unwrap_or("")
}
