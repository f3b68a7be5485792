//! Plans: what apply or destroy would do, computed purely from the spec's
//! nodes, the state and the attributes just read from AWS.

pub mod render;
pub mod saved;

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::graph::{Kind, Node, Source};
use crate::resources::{self, is_unknown, Attrs, Env, Known, Lookups};
use crate::spec::Spec;
use crate::refresh::Unmanaged;
use crate::state::State;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    NoOp,
    Create,
    Update,
    /// Delete, then create: the resource cannot change in place.
    Replace,
    Delete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Make AWS match the spec.
    Normal,
    /// Delete everything in the state.
    Destroy,
}

/// One attribute's change. `before` is absent for a create, `after` for a delete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttrDiff {
    pub path: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub forces_replacement: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Change {
    pub address: String,
    pub kind: Kind,
    pub action: Action,
    pub diff: Vec<AttrDiff>,
    /// Why, when the attributes alone do not say (e.g. deleted outside gwctl).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    /// For a delete of something the state does not record: its id and attributes.
    #[serde(skip)]
    pub target: Option<Known>,
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub no_op: usize,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create => s.create += 1,
                Action::Update => s.update += 1,
                Action::Replace => s.replace += 1,
                Action::Delete => s.delete += 1,
                Action::NoOp => s.no_op += 1,
            }
        }
        s
    }

    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::NoOp)
    }

    pub fn get(&self, address: &str) -> Option<&Change> {
        self.changes.iter().find(|c| c.address == address)
    }
}

/// The resources that exist: state entries AWS still has, with live attributes.
pub fn known_from(state: &State, live: &HashMap<String, Option<Attrs>>) -> HashMap<String, Known> {
    state
        .resources
        .iter()
        .filter_map(|r| {
            let attrs = live.get(&r.address)?.clone()?;
            Some((r.address.clone(), Known { id: r.id.clone(), attrs }))
        })
        .collect()
}

/// Computes the plan. `live` holds, for each state address, the attributes
/// just read from AWS (`None`: the resource no longer exists).
pub fn plan(
    spec: &Spec,
    nodes: &[Node],
    state: &State,
    live: &HashMap<String, Option<Attrs>>,
    unmanaged: &[Unmanaged],
    lookups: &Lookups,
    mode: Mode,
) -> Plan {
    let mut known = known_from(state, live);
    let mut changes = Vec::new();
    if mode == Mode::Normal {
        for node in nodes {
            let want = {
                let env = Env { spec, lookups, known: &known };
                resources::desired(&env, node)
            };
            let change = match known.get(&node.address) {
                None => {
                    let reason = state
                        .get(&node.address)
                        .map(|r| format!("{} {} no longer exists in AWS", node.kind, r.id));
                    Change { address: node.address.clone(), kind: node.kind, action: Action::Create, diff: diff(None, &want, &[]), reason, target: None }
                }
                Some(have) => {
                    let diff = diff(Some(&have.attrs), &want, resources::force_new(node.kind));
                    let action = if diff.iter().any(|d| d.forces_replacement) {
                        Action::Replace
                    } else if diff.is_empty() {
                        Action::NoOp
                    } else {
                        Action::Update
                    };
                    Change { address: node.address.clone(), kind: node.kind, action, diff, reason: None, target: None }
                }
            };
            if matches!(change.action, Action::Create | Action::Replace) {
                known.remove(&node.address);
            }
            changes.push(change);
        }
    }
    let wanted: BTreeSet<&str> = match mode {
        Mode::Normal => nodes.iter().map(|n| n.address.as_str()).collect(),
        Mode::Destroy => BTreeSet::new(),
    };
    let mut deletes: Vec<Change> = state
        .resources
        .iter()
        .filter(|r| !wanted.contains(r.address.as_str()))
        .filter_map(|r| {
            let attrs = live.get(&r.address)?.as_ref()?;
            Some(Change { address: r.address.clone(), kind: r.kind, action: Action::Delete, diff: delete_diff(attrs), reason: None, target: None })
        })
        .collect();
    // Deletes run dependents first: list them in that order.
    let order = crate::apply::delete_order(state);
    deletes.sort_by_key(|c| order.iter().position(|a| a == &c.address).unwrap_or(usize::MAX));
    changes.extend(deletes);
    // The spec is authoritative inside its APIs: what the state does not know goes.
    if mode == Mode::Normal {
        let mut consumed = vec![false; unmanaged.len()];
        // A child the state lost (an interrupted create) that the spec wants is
        // replaced, not duplicated beside: delete it, then create it as declared.
        for c in changes.iter_mut().filter(|c| c.action == Action::Create) {
            let Some(node) = nodes.iter().find(|n| n.address == c.address) else { continue };
            let found = unmanaged.iter().enumerate().position(|(i, u)| !consumed[i] && same_child(node, c, u));
            if let Some(i) = found {
                consumed[i] = true;
                let u = &unmanaged[i];
                c.action = Action::Replace;
                c.reason = Some(format!("replaces {} {} found in {} but not in the state", u.kind, u.id, u.found_in));
                c.target = Some(Known { id: u.id.clone(), attrs: u.attrs.clone() });
            }
        }
        for (i, u) in unmanaged.iter().enumerate() {
            if consumed[i] {
                continue;
            }
            changes.push(Change {
                address: u.address.clone(),
                kind: u.kind,
                action: Action::Delete,
                diff: delete_diff(&u.attrs),
                reason: Some(format!("not in the spec, found in {}", u.found_in)),
                target: Some(Known { id: u.id.clone(), attrs: u.attrs.clone() }),
            });
        }
    }
    Plan { changes }
}

/// Whether unmanaged `u` is the API child that `node` (planned for create)
/// declares: same kind in the same API with the same identity (route key,
/// authorizer or stage name; an API has one integration).
fn same_child(node: &Node, change: &Change, u: &Unmanaged) -> bool {
    if node.kind != u.kind || !u.found_in.starts_with("api.") {
        return false;
    }
    let api = u.found_in.trim_start_matches("api.");
    let field = |key: &str| change.diff.iter().find(|d| d.path == key).and_then(|d| d.after.clone());
    let theirs = |key: &str| u.attrs.get(key).cloned();
    match &node.source {
        Source::Route { api: a, .. } => a == api && field("route_key").is_some() && field("route_key") == theirs("route_key"),
        Source::Authorizer { api: a, .. } => a == api && field("name") == theirs("name"),
        Source::Stage(a) => a == api && field("name") == theirs("name"),
        Source::Integration(a) => a == api,
        _ => false,
    }
}

fn delete_diff(attrs: &Attrs) -> Vec<AttrDiff> {
    attrs
        .iter()
        .filter(|(k, _)| !k.starts_with('_'))
        .map(|(k, v)| AttrDiff { path: k.clone(), before: Some(v.clone()), after: None, forces_replacement: false })
        .collect()
}

/// The attribute differences between what exists and what is wanted.
/// Attributes whose names start with `_` are inputs to create, not state.
pub fn diff(have: Option<&Attrs>, want: &Attrs, force_new: &[&str]) -> Vec<AttrDiff> {
    let mut out = Vec::new();
    for (key, after) in want.iter().filter(|(k, _)| !k.starts_with('_')) {
        let before = have.and_then(|h| h.get(key));
        if have.is_some() && before == Some(after) && !is_unknown(after) {
            continue;
        }
        if have.is_some() && before.is_none() && after.is_null() {
            continue;
        }
        let forces = have.is_some() && force_new.contains(&key.as_str());
        nested_diff(key, before, Some(after), forces, &mut out);
    }
    out
}

/// One entry per changed leaf: objects on both sides are compared key by key
/// at any depth (`inline_policies.s3.Statement`), so a change inside a policy
/// document or the access-log format shows as just that change.
fn nested_diff(path: &str, before: Option<&Value>, after: Option<&Value>, forces: bool, out: &mut Vec<AttrDiff>) {
    match (before, after) {
        (Some(Value::Object(b)), Some(Value::Object(a))) => {
            let keys: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
            for k in keys {
                if b.get(k) != a.get(k) {
                    nested_diff(&format!("{path}.{k}"), b.get(k), a.get(k), forces, out);
                }
            }
        }
        _ => out.push(AttrDiff { path: path.to_string(), before: before.cloned(), after: after.cloned(), forces_replacement: forces }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_change_inside_a_document_is_shown_as_that_change() {
        let have = attrs(json!({"access_log_format": {"requestId": "$context.requestId", "ip": "$context.identity.sourceIp"}}));
        let want = attrs(json!({"access_log_format": {"requestId": "$context.requestId", "ip": "$context.identity.sourceIp", "status": "$context.status"}}));
        let d = diff(Some(&have), &want, &[]);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path, "access_log_format.status");
        assert_eq!((d[0].before.clone(), d[0].after.clone()), (None, Some(json!("$context.status"))));
    }

    fn attrs(v: Value) -> Attrs {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn equal_attributes_make_no_diff() {
        let a = attrs(json!({"name": "x", "tags": {"a": "1"}}));
        assert!(diff(Some(&a), &a, &["name"]).is_empty());
    }

    #[test]
    fn a_force_new_attribute_marks_replacement_and_others_do_not() {
        let have = attrs(json!({"ami": "ami-1", "instance_type": "t3.micro"}));
        let want = attrs(json!({"ami": "ami-2", "instance_type": "t3.small"}));
        let d = diff(Some(&have), &want, &["ami"]);
        assert_eq!(d.len(), 2);
        assert!(d.iter().find(|x| x.path == "ami").unwrap().forces_replacement);
        assert!(!d.iter().find(|x| x.path == "instance_type").unwrap().forces_replacement);
    }

    #[test]
    fn maps_diff_per_key() {
        let have = attrs(json!({"tags": {"a": "1", "b": "2"}}));
        let want = attrs(json!({"tags": {"a": "1", "b": "3", "c": "4"}}));
        let d = diff(Some(&have), &want, &[]);
        let paths: Vec<&str> = d.iter().map(|x| x.path.as_str()).collect();
        assert_eq!(paths, vec!["tags.b", "tags.c"]);
    }

    #[test]
    fn unknown_values_always_differ_and_private_inputs_never_show() {
        let have = attrs(json!({"uri": "http://old"}));
        let want = attrs(json!({"uri": crate::resources::UNKNOWN, "_secret": "x"}));
        let d = diff(Some(&have), &want, &[]);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path, "uri");
    }

    #[test]
    fn creates_list_every_attribute_without_forcing() {
        let want = attrs(json!({"name": "x", "retention_days": 30}));
        let d = diff(None, &want, &["name"]);
        assert_eq!(d.len(), 2);
        assert!(d.iter().all(|x| x.before.is_none() && !x.forces_replacement));
    }
}
