//! Plans: what apply or destroy would do, computed purely from the spec's
//! nodes, the state and the attributes just read from AWS.


use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::graph::Node;
use crate::model::Kind;
use crate::provider::{self, Env};
use crate::model::{is_unknown, Attrs, Known, Lookups};
use crate::spec::Spec;
use crate::engine::refresh::Unmanaged;
use crate::engine::Mode;
use crate::state::State;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    NoOp,
    Create,
    Update,
    /// Delete, then create (create first with `create_first`): the resource
    /// cannot change in place.
    Replace,
    Delete,
    /// Left in AWS and removed from the state (`destroy` of what the spec
    /// retains).
    Forget,
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
    /// A declared resource found in AWS but not in the state (lost state,
    /// `state rm`, a killed run): apply records it before changing anything,
    /// so it is adopted, never created a second time.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub adopt: Option<Known>,
    /// A replacement that creates the new resource before deleting the old.
    #[serde(skip_serializing_if = "is_false", default)]
    pub create_first: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Change {
    pub fn new(address: &str, kind: Kind, action: Action, diff: Vec<AttrDiff>) -> Change {
        Change { address: address.to_string(), kind, action, diff, reason: None, target: None, adopt: None, create_first: false }
    }
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
    /// Resources destroy leaves in AWS and forgets.
    #[serde(skip_serializing_if = "is_zero")]
    pub forget: usize,
    /// Resources recorded into the state from AWS (also counted by action).
    #[serde(skip_serializing_if = "is_zero")]
    pub adopt: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
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
                Action::Forget => s.forget += 1,
            }
            if c.adopt.is_some() {
                s.adopt += 1;
            }
        }
        s
    }

    /// Whether applying would change AWS or record resources found in it.
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::NoOp || c.adopt.is_some())
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
    adopted: &HashMap<String, Known>,
    lookups: &Lookups,
    mode: Mode,
) -> Plan {
    let mut known = known_from(state, live);
    let mut changes = Vec::new();
    let mut consumed = vec![false; unmanaged.len()];
    if mode == Mode::Normal {
        known.extend(adopted.iter().map(|(a, k)| (a.clone(), k.clone())));
        for node in nodes {
            let want = {
                let env = Env { spec, lookups, known: &known };
                provider::desired(&env, node)
            };
            let mut adopt = adopted.get(&node.address).cloned();
            if !known.contains_key(&node.address) {
                // An API child the state lost is taken by its natural key.
                let found = unmanaged.iter().enumerate().position(|(i, u)| !consumed[i] && same_child(node, &want, u));
                if let Some(i) = found {
                    consumed[i] = true;
                    let k = Known { id: unmanaged[i].id.clone(), attrs: unmanaged[i].attrs.clone() };
                    known.insert(node.address.clone(), k.clone());
                    adopt = Some(k);
                }
            }
            let mut change = match known.get(&node.address) {
                None => {
                    let reason = state
                        .get(&node.address)
                        .map(|r| format!("{} {} no longer exists in AWS", node.kind, r.id));
                    Change { reason, ..Change::new(&node.address, node.kind, Action::Create, diff(None, &want, &[])) }
                }
                Some(have) => {
                    let diff = diff(Some(&have.attrs), &want, provider::force_new(node.kind));
                    let action = if diff.iter().any(|d| d.forces_replacement) {
                        Action::Replace
                    } else if diff.is_empty() {
                        Action::NoOp
                    } else {
                        Action::Update
                    };
                    let create_first = action == Action::Replace && provider::of(node.kind).create_before_destroy();
                    Change { create_first, ..Change::new(&node.address, node.kind, action, diff) }
                }
            };
            if let Some(k) = adopt {
                change.reason = Some(format!("found in AWS as {}, not in the state", k.id));
                change.adopt = Some(k);
            }
            if matches!(change.action, Action::Create | Action::Replace) {
                known.remove(&node.address);
            }
            // After an update, what depends on the resource sees what it will
            // be: the wanted values, and unknown where the update changes more.
            if change.action == Action::Update {
                if let Some(have) = known.get_mut(&node.address) {
                    let unknown = provider::of(node.kind).unknown_after_update(&have.attrs, &want);
                    for (key, value) in want.iter().filter(|(k, _)| !k.starts_with('_')) {
                        have.attrs.insert(key.clone(), value.clone());
                    }
                    for key in unknown {
                        have.attrs.insert(key.to_string(), Value::String(crate::model::UNKNOWN.into()));
                    }
                }
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
            match mode == Mode::Destroy && provider::of(r.kind).retained(spec, &r.address) {
                true => Some(Change { reason: Some("retain_on_destroy = true".into()), ..Change::new(&r.address, r.kind, Action::Forget, vec![]) }),
                false => {
                    let change = Change::new(&r.address, r.kind, Action::Delete, delete_diff(attrs));
                    Some(match provider::of(r.kind).delete_attrs(spec, &r.address, attrs) {
                        Some(attrs) => Change {
                            reason: Some("deletion_protection = false: protection is lifted first".into()),
                            target: Some(Known { id: r.id.clone(), attrs }),
                            ..change
                        },
                        None => match provider::of(r.kind).delete_refused(&r.address, attrs) {
                            Some(why) => Change { reason: Some(why), ..change },
                            None => change,
                        },
                    })
                }
            }
        })
        .collect();
    // What a replacement left behind when a run stopped before deleting it.
    deletes.extend(state.superseded.iter().map(|r| Change {
        reason: Some(format!("replaced by a new {}; the old one was not yet deleted", r.kind)),
        target: Some(Known { id: r.id.clone(), attrs: r.attributes.clone() }),
        ..Change::new(&superseded_address(&r.address, &r.id), r.kind, Action::Delete, delete_diff(&r.attributes))
    }));
    // Deletes run dependents first: list them in that order.
    let order = delete_order(state);
    deletes.sort_by_key(|c| order.iter().position(|a| a == &c.address).unwrap_or(usize::MAX));
    changes.extend(deletes);
    // The spec is authoritative inside its APIs: what it does not declare goes.
    if mode == Mode::Normal {
        for (i, u) in unmanaged.iter().enumerate() {
            if consumed[i] {
                continue;
            }
            changes.push(Change {
                reason: Some(format!("not in the spec, found in {}", u.found_in)),
                target: Some(Known { id: u.id.clone(), attrs: u.attrs.clone() }),
                ..Change::new(&u.address, u.kind, Action::Delete, delete_diff(&u.attrs))
            });
        }
    }
    Plan { changes }
}

/// How a plan names a superseded resource it deletes.
pub fn superseded_address(address: &str, id: &str) -> String {
    format!("{address} (superseded {id})")
}


/// The order deletes take: dependents before their dependencies.
pub(crate) fn delete_order(state: &State) -> Vec<String> {
    let entries: Vec<&crate::state::ResourceState> = state.resources.iter().collect();
    let sorted = crate::graph::topo_sort_by(entries, |r| &r.address, |r| &r.dependencies);
    let mut order: Vec<String> = sorted.into_iter().map(|r| r.address.clone()).collect();
    order.reverse();
    order
}

/// Changes that would touch a live resource that is not provably this
/// project's, as (address, whose it is): one whose `gwctl:project` tag names
/// another project (for kinds inside a parent, which take no tags: whose
/// parent's does), one without the tag that would be deleted or replaced
/// (an update adds the tags to what was imported), and a create inside a
/// parent of another project. gwctl refuses a plan with any (docs/design.md §6): a
/// wrong or hand-edited state file must never reach another stack.
/// How [`foreign`] names the owner of a resource without a `gwctl:project` tag.
pub(crate) const UNTAGGED: &str = "no gwctl:project tag";

pub fn foreign(plan: &Plan, state: &State, live: &HashMap<String, Option<Attrs>>, project: &str) -> Vec<(String, String)> {
    let attrs_of = |address: &str| live.get(address).and_then(Option::as_ref);
    // The owner of each parent (an API) by id: its children belong to it.
    let parent_owner: HashMap<(Kind, &str), &str> = state
        .resources
        .iter()
        .filter(|r| provider::is_parent(r.kind))
        .filter_map(|r| Some(((r.kind, r.id.as_str()), crate::model::project_tag(attrs_of(&r.address)?)?)))
        .collect();
    let owner_via_parent = |kind: Kind, attrs: &Attrs| {
        let parent = provider::of(kind).parent()?;
        parent_owner.get(&(parent.kind, crate::model::s(attrs, parent.id_attr))).copied()
    };
    let mut out = Vec::new();
    for c in &plan.changes {
        let whose = match c.action {
            Action::NoOp | Action::Forget => None,
            // A create inside a parent: the parent's owner (an id, once the parent exists).
            Action::Create => c.diff.iter().find_map(|d| {
                let parent = provider::of(c.kind).parent()?;
                let id = d.after.as_ref().filter(|_| d.path == parent.id_attr)?.as_str()?;
                parent_owner.get(&(parent.kind, id)).copied()
            }),
            Action::Update | Action::Replace | Action::Delete => {
                let Some(attrs) = attrs_of(&c.address).or(c.target.as_ref().map(|t| &t.attrs)) else { continue };
                match crate::model::project_tag(attrs).or_else(|| owner_via_parent(c.kind, attrs)) {
                    Some(owner) => Some(owner),
                    None if c.action != Action::Update && provider::of(c.kind).parent().is_none() => Some(UNTAGGED),
                    None => None,
                }
            }
        };
        if let Some(owner) = whose.filter(|o| *o != project) {
            out.push((c.address.clone(), owner.to_string()));
        }
    }
    out
}

/// Whether unmanaged `u` is the child that `node` declares (`want`): same
/// kind, found in the parent the node depends on, with the same natural key
/// (route key, authorizer or stage name; an API has one integration).
fn same_child(node: &Node, want: &Attrs, u: &Unmanaged) -> bool {
    let kind = provider::of(node.kind);
    node.kind == u.kind
        && kind.parent().is_some()
        && node.deps.contains(&u.found_in)
        && kind.natural_key(want).is_some_and(|key| kind.natural_key(&u.attrs) == Some(key))
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
        let want = attrs(json!({"uri": crate::model::UNKNOWN, "_secret": "x"}));
        let d = diff(Some(&have), &want, &[]);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path, "uri");
    }

    #[test]
    fn api_children_the_state_lost_are_adopted_by_natural_key_and_strangers_deleted() {
        let spec = Spec::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway.toml")).unwrap();
        let nodes = crate::provider::nodes(&spec);
        let api = Known { id: "api1".into(), attrs: attrs(json!({"name": "job-work-planner", "protocol_type": "HTTP"})) };
        let adopted: HashMap<String, Known> = [("api.main".to_string(), api)].into_iter().collect();
        let child = |id: &str, key: &str| Unmanaged {
            address: format!("route.main[\"{key}\"]"),
            kind: crate::provider::apigw::route::KIND,
            id: id.into(),
            attrs: attrs(json!({"api_id": "api1", "route_key": key, "authorization_type": "NONE"})),
            found_in: "api.main".into(),
        };
        let unmanaged = vec![child("r1", "GET /health"), child("r2", "GET /admin")];
        let p = plan(&spec, &nodes, &State::new(), &HashMap::new(), &unmanaged, &adopted, &Lookups::default(), Mode::Normal);
        let health = p.get("route.main[\"GET /health\"]").unwrap();
        assert_eq!(health.adopt.as_ref().map(|k| k.id.as_str()), Some("r1"));
        assert_ne!(health.action, Action::Create, "adopted, not created beside");
        let api_change = p.get("api.main").unwrap();
        assert!(api_change.adopt.is_some());
        let stranger = p.changes.iter().find(|c| c.target.as_ref().is_some_and(|t| t.id == "r2")).unwrap();
        assert_eq!(stranger.action, Action::Delete);
        assert!(p.has_changes());
        assert_eq!(p.summary().adopt, 2);
        assert_eq!(crate::engine::render::json(&p)["summary"]["adopt"], 2);
    }

    #[test]
    fn a_change_to_a_resource_tagged_for_another_project_is_foreign() {
        let mut state = State::new();
        state.put(crate::state::ResourceState {
            address: "log_group.a".into(),
            kind: crate::provider::logs::log_group::KIND,
            id: "/lg".into(),
            attributes: attrs(json!({"retention_days": 30})),
            dependencies: vec![],
        });
        let live: HashMap<String, Option<Attrs>> =
            [("log_group.a".to_string(), Some(attrs(json!({"retention_days": 30, "tags": {"gwctl:project": "other"}}))))].into_iter().collect();
        let change = |action| Plan {
            changes: vec![Change::new("log_group.a", crate::provider::logs::log_group::KIND, action, vec![])],
        };
        assert_eq!(foreign(&change(Action::Delete), &state, &live, "mine"), vec![("log_group.a".to_string(), "other".to_string())]);
        assert!(foreign(&change(Action::NoOp), &state, &live, "mine").is_empty(), "reading is not touching");
        assert!(foreign(&change(Action::Delete), &state, &live, "other").is_empty());
        // Without the tag (imported): an update adds the tags; a delete is refused.
        let untagged: HashMap<String, Option<Attrs>> = [("log_group.a".to_string(), Some(attrs(json!({"retention_days": 30}))))].into_iter().collect();
        assert!(foreign(&change(Action::Update), &state, &untagged, "mine").is_empty());
        assert_eq!(foreign(&change(Action::Delete), &state, &untagged, "mine"), vec![("log_group.a".to_string(), UNTAGGED.to_string())]);
    }

    #[test]
    fn delete_order_puts_dependents_first() {
        let mut state = State::new();
        state.put(entry("role", &[]));
        state.put(entry("profile", &["role"]));
        state.put(entry("inst", &["profile"]));
        assert_eq!(delete_order(&state), vec!["inst", "profile", "role"]);
    }

    fn entry(address: &str, deps: &[&str]) -> crate::state::ResourceState {
        crate::state::ResourceState {
            address: address.into(),
            kind: crate::provider::ec2::instance::KIND,
            id: format!("id-{address}"),
            attributes: Attrs::new(),
            dependencies: deps.iter().map(|d| d.to_string()).collect(),
        }
    }

    #[test]
    fn creates_list_every_attribute_without_forcing() {
        let want = attrs(json!({"name": "x", "retention_days": 30}));
        let d = diff(None, &want, &["name"]);
        assert_eq!(d.len(), 2);
        assert!(d.iter().all(|x| x.before.is_none() && !x.forces_replacement));
    }
}
