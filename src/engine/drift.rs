//! Drift: what changed in AWS behind gwctl's back, comparing the live
//! attributes with those recorded at the last apply. Pure: the reads happen
//! in `refresh` and `scan_tagged`.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{json, Value};

use crate::model::Kind;
use crate::engine::refresh::Unmanaged;
use crate::model::Attrs;
use crate::state::State;

/// Attributes that describe rather than configure a resource: AWS may change
/// them without anyone changing the stack (a restarted instance's address).
const INFORMATIONAL: &[&str] = &["arn", "public_ip", "public_dns", "private_ip", "api_endpoint", "ami_source"];

/// Lists whose elements are grants: an element that appears live is access
/// nobody declared, reported as `unmanaged` rather than `modified`.
const GRANT_LISTS: &[&str] = &["ingress", "egress", "managed_policies"];
const GRANT_MAPS: &[&str] = &["inline_policies"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Modified,
    Deleted,
    Unmanaged,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftDiff {
    pub path: String,
    /// As recorded at the last apply.
    pub before: Option<Value>,
    /// As AWS has it now.
    pub after: Option<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub address: String,
    pub kind: Kind,
    pub status: Status,
    pub diff: Vec<DriftDiff>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The diff is what AWS has (`before`) against what the spec now asks
    /// for (`after`), not the last apply against AWS: see [`stale`].
    #[serde(skip)]
    pub wanted: bool,
}

#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub in_sync: usize,
}

impl Report {
    /// Adds findings from another check ([`stale`]); a resource counted in
    /// sync that one of them names is in sync no more.
    pub fn add(&mut self, findings: Vec<Finding>) {
        let mut named: BTreeSet<&str> = BTreeSet::new();
        let newly = findings
            .iter()
            .filter(|f| named.insert(f.address.as_str()) && !self.findings.iter().any(|g| g.address == f.address))
            .count();
        self.in_sync = self.in_sync.saturating_sub(newly);
        self.findings.extend(findings);
    }

    pub fn json(&self) -> Value {
        json!({"format_version": "1", "drift": self.findings, "in_sync": self.in_sync})
    }
}

fn ignored(ignore: &[String], address: &str, path: &str) -> bool {
    let full = format!("{address}.{path}");
    ignore.iter().any(|i| full == *i || full.starts_with(&format!("{i}.")) || full.starts_with(&format!("{i}[")) || address == i)
}

/// Compares each state entry with AWS, and adds what AWS has that the state
/// does not. `ignore` holds `<address>.<attribute>` paths to let drift.
pub fn compare(state: &State, live: &std::collections::HashMap<String, Option<Attrs>>, unmanaged: &[Unmanaged], ignore: &[String]) -> Report {
    let mut report = Report::default();
    for r in &state.resources {
        match live.get(&r.address) {
            Some(None) => {
                if ignored(ignore, &r.address, "") {
                    report.in_sync += 1;
                    continue;
                }
                report.findings.push(Finding {
                    address: r.address.clone(),
                    kind: r.kind,
                    status: Status::Deleted,
                    diff: vec![],
                    detail: Some(format!("{} {} no longer exists", r.kind, r.id)),
                    wanted: false,
                });
            }
            Some(Some(now)) => {
                let (modified, added) = attribute_drift(&r.attributes, now);
                let modified: Vec<DriftDiff> = modified.into_iter().filter(|d| !ignored(ignore, &r.address, &d.path)).collect();
                let added: Vec<DriftDiff> = added.into_iter().filter(|d| !ignored(ignore, &r.address, &d.path)).collect();
                if modified.is_empty() && added.is_empty() {
                    report.in_sync += 1;
                }
                if !modified.is_empty() {
                    report.findings.push(Finding { address: r.address.clone(), kind: r.kind, status: Status::Modified, diff: modified, detail: None, wanted: false });
                }
                if !added.is_empty() {
                    report.findings.push(Finding {
                        address: r.address.clone(),
                        kind: r.kind,
                        status: Status::Unmanaged,
                        diff: added,
                        detail: Some("granted outside gwctl".into()),
                        wanted: false,
                    });
                }
            }
            None => report.in_sync += 1,
        }
    }
    for u in unmanaged {
        if ignored(ignore, &u.address, "") {
            continue;
        }
        report.findings.push(Finding {
            address: u.address.clone(),
            kind: u.kind,
            status: Status::Unmanaged,
            diff: vec![],
            detail: Some(format!("{} {} in {} is not in the state", u.kind, u.id, u.found_in)),
            wanted: false,
        });
    }
    report
}

/// Resources whose wanted attributes are built from another resource that
/// changed outside gwctl (an instance stopped and started has a new public
/// address): they still hold what the last apply built from the old values,
/// and the stack is broken although neither was touched. Each is reported as
/// modified, with what AWS has against what the spec now asks for.
/// `lookups` are the values the state recorded (no new AWS call).
pub fn stale(
    spec: &crate::spec::Spec,
    nodes: &[crate::graph::Node],
    state: &State,
    live: &std::collections::HashMap<String, Option<Attrs>>,
    lookups: &crate::model::Lookups,
    ignore: &[String],
) -> Vec<Finding> {
    use crate::model::Known;
    let recorded: std::collections::HashMap<String, Known> =
        state.resources.iter().map(|r| (r.address.clone(), Known { id: r.id.clone(), attrs: r.attributes.clone() })).collect();
    let now: std::collections::HashMap<String, Known> = state
        .resources
        .iter()
        .filter_map(|r| Some((r.address.clone(), Known { id: r.id.clone(), attrs: live.get(&r.address)?.clone()? })))
        .collect();
    let mut out = Vec::new();
    for node in nodes {
        let Some(Some(have)) = live.get(&node.address) else { continue };
        let changed: Vec<&str> = node
            .deps
            .iter()
            .filter(|d| matches!((recorded.get(*d), now.get(*d)), (Some(a), Some(b)) if a.attrs != b.attrs))
            .map(String::as_str)
            .collect();
        if changed.is_empty() {
            continue;
        }
        let env = |known| crate::provider::Env { spec, lookups, known };
        let before = crate::provider::desired(&env(&recorded), node);
        let after = crate::provider::desired(&env(&now), node);
        let diff: Vec<DriftDiff> = after
            .iter()
            .filter(|(k, v)| !k.starts_with('_') && !crate::model::is_unknown(v) && before.get(*k) != Some(*v) && have.get(*k) != Some(*v))
            .filter(|(k, _)| !ignored(ignore, &node.address, k))
            .map(|(k, v)| DriftDiff { path: k.clone(), before: have.get(k).cloned(), after: Some(v.clone()) })
            .collect();
        if !diff.is_empty() {
            out.push(Finding {
                address: node.address.clone(),
                kind: node.kind,
                status: Status::Modified,
                diff,
                detail: Some(format!("built from {} as it was before it changed outside gwctl; `gwctl apply` updates it", changed.join(", "))),
                wanted: true,
            });
        }
    }
    out
}

/// Attribute changes from `recorded` to `now`: (modified, added grants).
fn attribute_drift(recorded: &Attrs, now: &Attrs) -> (Vec<DriftDiff>, Vec<DriftDiff>) {
    let mut modified = Vec::new();
    let mut added = Vec::new();
    let keys: BTreeSet<&String> = recorded.keys().chain(now.keys()).collect();
    for key in keys {
        if INFORMATIONAL.contains(&key.as_str()) || key == "api_id" {
            continue;
        }
        let (before, after) = (recorded.get(key), now.get(key));
        // An attribute a state from an earlier gwctl never recorded, which
        // AWS reports as unset, has not drifted.
        if before == after || (before.is_none() && after == Some(&Value::Null)) {
            continue;
        }
        match (before, after) {
            (Some(Value::Array(b)), Some(Value::Array(a))) if GRANT_LISTS.contains(&key.as_str()) => {
                let gained: Vec<Value> = a.iter().filter(|v| !b.contains(v)).cloned().collect();
                let lost: Vec<Value> = b.iter().filter(|v| !a.contains(v)).cloned().collect();
                if !gained.is_empty() {
                    added.push(DriftDiff { path: key.clone(), before: None, after: Some(Value::Array(gained)) });
                }
                if !lost.is_empty() {
                    modified.push(DriftDiff { path: key.clone(), before: Some(Value::Array(lost)), after: None });
                }
            }
            (Some(Value::Object(b)), Some(Value::Object(a))) => {
                let sub: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
                for k in sub {
                    if b.get(k) == a.get(k) {
                        continue;
                    }
                    let d = DriftDiff { path: format!("{key}.{k}"), before: b.get(k).cloned(), after: a.get(k).cloned() };
                    if GRANT_MAPS.contains(&key.as_str()) && !b.contains_key(k) {
                        added.push(d);
                    } else {
                        modified.push(d);
                    }
                }
            }
            _ => modified.push(DriftDiff { path: key.clone(), before: before.cloned(), after: after.cloned() }),
        }
    }
    (modified, added)
}

pub fn value(v: &Option<Value>) -> String {
    v.as_ref().map(Value::to_string).unwrap_or_else(|| "(none)".into())
}

/// A short report for a person or a cron mail.
pub fn human(report: &Report) -> String {
    let mut out = String::new();
    if report.findings.is_empty() {
        out.push_str(&format!("No drift: all {} resources match the state.\n", report.in_sync));
        return out;
    }
    let touched: BTreeSet<&str> = report.findings.iter().map(|f| f.address.as_str()).collect();
    out.push_str(&format!("Drift: {} finding(s) on {} resource(s); {} in sync.\n", report.findings.len(), touched.len(), report.in_sync));
    for f in &report.findings {
        let (symbol, status) = match f.status {
            Status::Modified => ("~", "modified"),
            Status::Deleted => ("-", "deleted"),
            Status::Unmanaged => ("+", "unmanaged"),
        };
        out.push_str(&format!("\n  {symbol} {} ({}): {status}", f.address, f.kind));
        if let Some(detail) = &f.detail {
            out.push_str(&format!(", {detail}"));
        }
        out.push('\n');
        for d in &f.diff {
            match (&d.before, &d.after) {
                (None, Some(a)) => out.push_str(&format!("      {}: + {a}\n", d.path)),
                (Some(b), None) => out.push_str(&format!("      {}: - {b} (gone)\n", d.path)),
                _ if f.wanted => out.push_str(&format!("      {}: {} (live) -> {} (wanted)\n", d.path, value(&d.before), value(&d.after))),
                _ => out.push_str(&format!("      {}: {} (applied) -> {} (live)\n", d.path, value(&d.before), value(&d.after))),
            }
        }
    }
    out.push_str("\n`gwctl plan` shows what would restore the spec; `gwctl apply` restores it.\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::ResourceState;

    fn attrs(v: Value) -> Attrs {
        v.as_object().cloned().unwrap()
    }

    fn state_with(address: &str, kind: Kind, a: Value) -> State {
        let mut s = State::new();
        s.put(ResourceState { address: address.into(), kind, id: "id-1".into(), attributes: attrs(a), dependencies: vec![] });
        s
    }

    #[test]
    fn an_unchanged_resource_is_in_sync_even_when_informational_fields_move() {
        let st = state_with("instance.backend", crate::provider::ec2::instance::KIND, json!({"instance_type": "t3.micro", "public_ip": "1.2.3.4"}));
        let live = [("instance.backend".to_string(), Some(attrs(json!({"instance_type": "t3.micro", "public_ip": "5.6.7.8"}))))].into();
        let r = compare(&st, &live, &[], &[]);
        assert!(r.findings.is_empty());
        assert_eq!(r.in_sync, 1);
    }

    #[test]
    fn a_new_rule_is_unmanaged_and_a_changed_value_is_modified() {
        let rule80 = json!({"protocol": "tcp", "from_port": 80, "to_port": 80, "cidr": "0.0.0.0/0"});
        let rule22 = json!({"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "0.0.0.0/0"});
        let st = state_with("security_group.backend", crate::provider::ec2::security_group::KIND, json!({"ingress": [rule80], "description": "a"}));
        let live = [("security_group.backend".to_string(), Some(attrs(json!({"ingress": [rule80, rule22], "description": "b"}))))].into();
        let r = compare(&st, &live, &[], &[]);
        let statuses: Vec<Status> = r.findings.iter().map(|f| f.status).collect();
        assert_eq!(statuses, vec![Status::Modified, Status::Unmanaged]);
        assert_eq!(r.findings[1].diff[0].after, Some(json!([rule22])));
        assert_eq!(r.in_sync, 0);
    }

    #[test]
    fn ignored_attributes_do_not_count() {
        let st = state_with("instance.backend", crate::provider::ec2::instance::KIND, json!({"state": "running", "tags": {"a": "1"}}));
        let live = [("instance.backend".to_string(), Some(attrs(json!({"state": "stopped", "tags": {"a": "2"}}))))].into();
        let r = compare(&st, &live, &[], &["instance.backend.state".into(), "instance.backend.tags".into()]);
        assert!(r.findings.is_empty(), "{:?}", r.findings);
        let r = compare(&st, &live, &[], &["instance.backend.state".into()]);
        assert_eq!(r.findings[0].diff[0].path, "tags.a");
    }

    #[test]
    fn a_missing_resource_is_deleted() {
        let st = state_with("route.main[\"GET /health\"]", crate::provider::apigw::route::KIND, json!({}));
        let live = [("route.main[\"GET /health\"]".to_string(), None)].into();
        let r = compare(&st, &live, &[], &[]);
        assert_eq!(r.findings[0].status, Status::Deleted);
        assert!(human(&r).contains("- route.main[\"GET /health\"] (route): deleted"));
    }
}
