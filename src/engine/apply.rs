//! Executes a plan: a concurrent walk of the dependency graph.
//!
//! Guarantees:
//! - A create or update starts only after every dependency's create or update
//!   has finished; a delete only after every dependent's delete (and, for a
//!   plain delete, after dependents stopped referring to it in an update).
//! - At most `parallelism` operations run at once; everything ready runs.
//! - The state is saved after every resource that changes. Before each create
//!   the intent (address + idempotency token) is saved, so a run killed
//!   mid-call is finished or adopted next time, never duplicated.
//! - A failed operation skips its dependents and nothing else.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use tokio::sync::Mutex;

use crate::provider::aws::{Aws, AwsError};
use crate::graph::Node;
use crate::model::Kind;
use crate::engine::plan::{Action, Plan};
use crate::provider::{self, Env};
use crate::model::{Attrs, Known, Lookups};
use crate::spec::Spec;
use crate::state::{now_rfc3339, Pending, ResourceState, State, StateError, Store};
use crate::progress::Event;
use crate::graph::walk::StepResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Delete,
    Create,
    Update,
    /// Removed from the state, left in AWS.
    Forget,
}

#[derive(Debug)]
struct Op {
    address: String,
    kind: Kind,
    phase: Phase,
    waits: Vec<usize>,
    /// What to delete when the state does not record it (unmanaged).
    target: Option<crate::model::Known>,
    /// A create whose address the state records the old resource at: the
    /// first half of a create-first replacement.
    supersedes: bool,
}

/// What happened to each operation.
#[derive(Debug, Default)]
pub struct Outcome {
    pub added: usize,
    pub changed: usize,
    pub destroyed: usize,
    /// Left in AWS and removed from the state, with their ids.
    pub kept: Vec<String>,
    pub failed: Vec<(String, String)>,
    pub skipped: Vec<(String, String)>,
    /// Set when SIGINT or SIGTERM stopped the run: these were never started.
    pub not_started: Vec<String>,
    pub interrupted: bool,
    /// The longest chain of dependent operations by measured duration, and the
    /// whole run: how close the schedule came to what the graph allows.
    pub critical_path: std::time::Duration,
    /// The least time any schedule at this parallelism could take.
    pub lower_bound: std::time::Duration,
    pub elapsed: std::time::Duration,
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}


/// The operations of a plan with what each waits for: one per create, update
/// and delete, two for a replace (its delete, then its create), ordered by
/// the rules below.
fn build_ops(plan: &Plan, nodes: &HashMap<&str, &Node>, state: &State) -> Vec<Op> {
    let mut ops = Vec::new();
    let mut up: HashMap<String, usize> = HashMap::new();
    let mut down: HashMap<String, usize> = HashMap::new();
    for c in &plan.changes {
        let push = |phase: Phase, ops: &mut Vec<Op>| {
            ops.push(Op { address: c.address.clone(), kind: c.kind, phase, waits: vec![], target: c.target.clone(), supersedes: false });
            ops.len() - 1
        };
        match c.action {
            Action::NoOp => {}
            Action::Create => {
                up.insert(c.address.clone(), push(Phase::Create, &mut ops));
            }
            Action::Update => {
                up.insert(c.address.clone(), push(Phase::Update, &mut ops));
            }
            Action::Delete => {
                down.insert(c.address.clone(), push(Phase::Delete, &mut ops));
            }
            Action::Forget => {
                push(Phase::Forget, &mut ops);
            }
            Action::Replace if c.create_first => {
                let cr = push(Phase::Create, &mut ops);
                ops[cr].supersedes = true;
                up.insert(c.address.clone(), cr);
                let old = state.get(&c.address).map(|r| Known { id: r.id.clone(), attrs: r.attributes.clone() }).or_else(|| c.adopt.clone());
                if let Some(old) = old {
                    let address = crate::engine::plan::superseded_address(&c.address, &old.id);
                    ops.push(Op { address, kind: c.kind, phase: Phase::Delete, waits: vec![cr], target: Some(old), supersedes: false });
                    down.insert(c.address.clone(), ops.len() - 1);
                }
            }
            Action::Replace => {
                let d = push(Phase::Delete, &mut ops);
                let cr = push(Phase::Create, &mut ops);
                ops[cr].waits.push(d);
                down.insert(c.address.clone(), d);
                up.insert(c.address.clone(), cr);
            }
        }
    }
    creates_after_dependencies(&mut ops, &up, nodes);
    let replaced: HashSet<&str> = plan.changes.iter().filter(|c| c.action == Action::Replace && !c.create_first).map(|c| c.address.as_str()).collect();
    let created_first: HashSet<&str> = plan.changes.iter().filter(|c| c.action == Action::Replace && c.create_first).map(|c| c.address.as_str()).collect();
    deletes_after_dependents(&mut ops, &up, &down, state, &replaced, &created_first);
    unrecorded_deletes_after_users(&mut ops);
    ops
}

/// A create or update starts after the creates and updates of everything
/// its node depends on:
///
/// ```text
///   role ──create──▶ instance_profile ──create──▶ instance
///   (the profile's create waits for the role's; the instance's for the profile's)
/// ```
fn creates_after_dependencies(ops: &mut [Op], up: &HashMap<String, usize>, nodes: &HashMap<&str, &Node>) {
    for (address, &i) in up {
        let Some(node) = nodes.get(address.as_str()) else { continue };
        for dep in &node.deps {
            if let Some(&j) = up.get(dep) {
                ops[i].waits.push(j);
            }
        }
    }
}

/// Destroy edges are the create edges reversed, as the state records them:
/// a delete starts after the deletes of whatever depends on it. A plain
/// delete, and the delete that ends a create-first replacement, also wait
/// for the updates that make its dependents stop using it (a delete-first
/// replacement cannot: those updates wait for its create):
///
/// ```text
///   instance ──delete──▶ security_group ──delete──▶ ...
///   instance ──update (drops the group)──▶ security_group delete
///   security_group create ──▶ instance update (moves) ──▶ old security_group delete
/// ```
///
/// One exception: a dependent replaced create-first whose dependency is
/// replaced delete-first (a Cloud Map registration of a replaced instance)
/// keeps its old self until the new one is made from the new dependency,
/// so the old dependency's delete does not wait for it (that would be a cycle).
fn deletes_after_dependents(ops: &mut [Op], up: &HashMap<String, usize>, down: &HashMap<String, usize>, state: &State, replaced: &HashSet<&str>, created_first: &HashSet<&str>) {
    for r in &state.resources {
        for dep in &r.dependencies {
            let Some(&d) = down.get(dep) else { continue };
            if let Some(&j) = down.get(&r.address) {
                // A dependent replaced create-first keeps its old self until
                // its new one exists, which needs the new dependency: the old
                // dependency of a delete-first replacement goes first.
                if created_first.contains(r.address.as_str()) && replaced.contains(dep.as_str()) {
                    continue;
                }
                ops[d].waits.push(j);
            } else if let Some(&j) = up.get(&r.address) {
                if !replaced.contains(dep.as_str()) && ops[j].phase == Phase::Update {
                    ops[d].waits.push(j);
                }
            }
        }
    }
}

/// The state records no dependencies for something it does not record (an
/// integration or authorizer found in a managed API): its delete waits for
/// the updates and deletes of every resource of the kinds its kind names as
/// possible users (the routes), since AWS refuses to delete what is in use.
/// Creates of those kinds use the new ones, not these, and are not waited for.
fn unrecorded_deletes_after_users(ops: &mut [Op]) {
    for i in 0..ops.len() {
        if ops[i].target.is_none() || ops[i].phase != Phase::Delete {
            continue;
        }
        let users = crate::provider::of(ops[i].kind).delete_waits_on();
        let waits: Vec<usize> = (0..ops.len()).filter(|&j| users.contains(&ops[j].kind) && ops[j].phase != Phase::Create).collect();
        ops[i].waits.extend(waits);
    }
}

/// Brings the state up to what was just read from AWS, before any change
/// is made, and saves it once if that differs from the file:
/// - entries AWS no longer has, that the plan does not recreate, are dropped
///   (deleted outside gwctl, or by a run killed before it saved);
/// - resources the plan adopts (found in AWS for a declared address) are
///   recorded, so the operations that follow treat them as existing;
/// - every entry the plan leaves as it is takes the attributes just read, so
///   the state records what AWS has even when the plan is empty, and `drift`
///   compares against that rather than against values AWS and the spec have
///   both left. An entry about to be updated or replaced keeps what was last
///   applied until its operation records the result: if that fails, `drift`
///   still reports the difference. With `accept_all` (`apply --refresh-only`,
///   which changes nothing in AWS) every entry takes what was read.
///
/// Returns how many entries changed.
pub fn record_refresh(
    plan: &Plan,
    nodes: &[Node],
    live: &HashMap<String, Option<Attrs>>,
    accept_all: bool,
    store: &mut Store,
    state: &mut State,
) -> Result<usize, StateError> {
    let mut changed = 0;
    let gone: Vec<String> = state
        .resources
        .iter()
        .filter(|r| matches!(live.get(&r.address), Some(None)))
        .filter(|r| plan.get(&r.address).is_none_or(|c| c.action == Action::Delete))
        .map(|r| r.address.clone())
        .collect();
    for a in &gone {
        state.remove(a);
        changed += 1;
    }
    for r in &mut state.resources {
        let changing = plan.get(&r.address).is_some_and(|c| matches!(c.action, Action::Update | Action::Replace));
        if changing && !accept_all {
            continue;
        }
        if let Some(Some(attrs)) = live.get(&r.address) {
            let attrs = public(attrs.clone());
            if r.attributes != attrs {
                r.attributes = attrs;
                changed += 1;
            }
        }
    }
    for c in &plan.changes {
        let Some(found) = &c.adopt else { continue };
        let dependencies = nodes.iter().find(|n| n.address == c.address).map(|n| n.deps.clone()).unwrap_or_default();
        state.put(ResourceState { address: c.address.clone(), kind: c.kind, id: found.id.clone(), attributes: public(found.attrs.clone()), dependencies });
        state.clear_pending(&c.address);
        changed += 1;
    }
    if changed > 0 {
        store.save(state)?;
    }
    Ok(changed)
}

/// Everything an apply works with.
pub struct Applier<'a> {
    pub aws: &'a Aws,
    pub spec: &'a Spec,
    pub nodes: &'a [Node],
    pub lookups: &'a Lookups,
    /// Attributes read from AWS while planning: the `before` of each update.
    pub live: &'a HashMap<String, Option<Attrs>>,
    pub parallelism: usize,
    pub progress: &'a dyn crate::progress::Report,
}

struct Shared {
    store: Store,
    state: State,
}

#[derive(Debug, thiserror::Error)]
enum OpError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    State(#[from] StateError),
    /// A plan that contradicts the spec or state it was made from: a bug in
    /// gwctl, reported as that operation's failure, never a panic.
    #[error("internal error, please report it: {0}")]
    Invariant(String),
}

impl Applier<'_> {
    /// Runs the plan. Returns the outcome, or a state error when the state
    /// could not be saved (then nothing further is started).
    pub async fn run(&self, plan: &Plan, store: Store, state: State) -> Result<(Outcome, State), StateError> {
        let node_map: HashMap<&str, &Node> = self.nodes.iter().map(|n| (n.address.as_str(), n)).collect();
        let ops = build_ops(plan, &node_map, &state);
        let shared = Mutex::new(Shared { store, state });
        let errors: std::sync::Mutex<HashMap<usize, String>> = std::sync::Mutex::new(HashMap::new());
        let fatal: std::sync::Mutex<Option<StateError>> = std::sync::Mutex::new(None);
        let waits: Vec<Vec<usize>> = ops.iter().map(|o| o.waits.clone()).collect();
        let on_interrupt = |in_flight: usize| {
            let line = format!("Interrupted: starting nothing new; waiting for {in_flight} operation(s) in flight to finish and be saved...");
            self.progress.event(Event::Note { line: &line });
        };
        let report = crate::graph::walk::walk(&waits, self.parallelism, crate::signal::interrupt(), on_interrupt, |i| {
            let (op, shared, errors, fatal) = (&ops[i], &shared, &errors, &fatal);
            let node = node_map.get(op.address.as_str()).copied();
            async move {
                let start = Instant::now();
                let line = format!("{}: {}...", op.address, starting(op.phase));
                self.progress.event(Event::Start { address: &op.address, line: &line });
                let work = self.execute(op, node, shared);
                tokio::pin!(work);
                let every = std::time::Duration::from_secs(10);
                let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
                let result = loop {
                    tokio::select! {
                        result = &mut work => break result,
                        _ = ticks.tick() => {
                            let secs = start.elapsed().as_secs();
                            let line = format!("{}: Still {}... [{secs}s elapsed]", op.address, starting(op.phase).to_lowercase());
                            self.progress.event(Event::Still { line: &line });
                        }
                    }
                };
                match result {
                    Ok(id) => {
                        let secs = start.elapsed().as_secs_f64();
                        let id = id.map(|id| format!(" [id={id}]")).unwrap_or_default();
                        let line = format!("{}: {} after {secs:.1}s{id}", op.address, finished(op.phase));
                        self.progress.event(Event::End { address: &op.address, line: &line });
                        StepResult::Done
                    }
                    Err(e @ (OpError::Aws(_) | OpError::Invariant(_))) => {
                        let line = format!("{}: {} failed: {e}", op.address, starting(op.phase).to_lowercase());
                        self.progress.event(Event::End { address: &op.address, line: &line });
                        lock(errors).insert(i, e.to_string());
                        StepResult::Failed
                    }
                    Err(OpError::State(e)) => {
                        let line = format!("{}: state could not be saved: {e}", op.address);
                        self.progress.event(Event::End { address: &op.address, line: &line });
                        lock(errors).insert(i, e.to_string());
                        *lock(fatal) = Some(e);
                        StepResult::Fatal
                    }
                }
            }
        })
        .await;
        let mut errors = errors.into_inner().unwrap_or_else(|p| p.into_inner());
        let mut outcome = Outcome { interrupted: report.interrupted, ..Outcome::default() };
        for (i, op) in ops.iter().enumerate() {
            match report.results[i] {
                Some(StepResult::Done) => match op.phase {
                    Phase::Create => outcome.added += 1,
                    Phase::Update => outcome.changed += 1,
                    Phase::Delete => outcome.destroyed += 1,
                    Phase::Forget => outcome.kept.push(op.address.clone()),
                },
                Some(_) => outcome.failed.push((op.address.clone(), errors.remove(&i).unwrap_or_default())),
                None => {}
            }
        }
        outcome.skipped = report.skipped.iter().map(|&(d, f)| (ops[d].address.clone(), format!("{} failed", ops[f].address))).collect();
        // A cycle is a bug in ordering: report it, never a silent success.
        outcome.failed.extend(report.never_ready.iter().map(|&i| (ops[i].address.clone(), "not run: its dependencies form a cycle".to_string())));
        outcome.not_started = report.not_started.iter().map(|&i| ops[i].address.clone()).collect();
        outcome.critical_path = report.critical_path(&waits);
        outcome.lower_bound = report.lower_bound(&waits, self.parallelism);
        outcome.elapsed = report.elapsed;
        if let Some(e) = fatal.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(e);
        }
        Ok((outcome, shared.into_inner().state))
    }

    async fn execute(&self, op: &Op, node: Option<&Node>, shared: &Mutex<Shared>) -> Result<Option<String>, OpError> {
        match op.phase {
            Phase::Forget => {
                let mut s = shared.lock().await;
                let Shared { store, state } = &mut *s;
                let id = state.remove(&op.address).map(|r| r.id);
                store.save(state)?;
                Ok(id)
            }
            Phase::Delete => {
                // The target when the plan names one: what the state does not
                // record, or the old resource a create-first replacement superseded.
                let recorded = shared.lock().await.state.get(&op.address).map(|r| Known { id: r.id.clone(), attrs: r.attributes.clone() });
                let Some(r) = op.target.clone().or(recorded) else { return Ok(None) };
                provider::delete(self.aws, op.kind, &r.id, &r.attrs).await?;
                let mut s = shared.lock().await;
                let Shared { store, state } = &mut *s;
                state.forget(&op.address, &r.id);
                store.save(state)?;
                Ok(None)
            }
            Phase::Create => {
                let node = node.ok_or_else(|| OpError::Invariant(format!("{} is planned for a create or update but not in the spec", op.address)))?;
                let (want, token) = {
                    let mut s = shared.lock().await;
                    let Shared { store, state } = &mut *s;
                    let mut want = self.desired(node, state);
                    crate::model::set_replaces(&mut want, state.replaced_ids(&op.address, op.supersedes));
                    // A create-first replacement: the old resource is set
                    // aside in the state, so a run stopped before its delete
                    // leaves it for the next plan to delete.
                    let mut dirty = op.supersedes && state.get(&op.address).is_some();
                    if op.supersedes {
                        state.supersede(&op.address);
                    }
                    let token = match state.pending_for(&op.address) {
                        Some(p) => p.token.clone(),
                        None => {
                            let token = uuid::Uuid::new_v4().to_string();
                            state.pending.push(Pending { address: op.address.clone(), kind: op.kind, token: token.clone(), started_at: now_rfc3339() });
                            dirty = true;
                            token
                        }
                    };
                    if dirty {
                        store.save(state)?;
                    }
                    (want, token)
                };
                let known = provider::create(self.aws, op.kind, &op.address, &want, &token).await?;
                let mut s = shared.lock().await;
                let Shared { store, state } = &mut *s;
                state.put(ResourceState {
                    address: op.address.clone(),
                    kind: op.kind,
                    id: known.id.clone(),
                    attributes: public(known.attrs),
                    dependencies: node.deps.clone(),
                });
                state.clear_pending(&op.address);
                store.save(state)?;
                Ok(Some(known.id))
            }
            Phase::Update => {
                let node = node.ok_or_else(|| OpError::Invariant(format!("{} is planned for a create or update but not in the spec", op.address)))?;
                let (want, current) = {
                    let s = shared.lock().await;
                    (self.desired(node, &s.state), s.state.get(&op.address).cloned())
                };
                let current = current.ok_or_else(|| OpError::Invariant(format!("{} is planned for an update but not in the state", op.address)))?;
                let before = self.live.get(&op.address).cloned().flatten().unwrap_or_else(|| current.attributes.clone());
                let attrs = provider::update(self.aws, op.kind, &current.id, &before, &want).await?;
                let mut s = shared.lock().await;
                let Shared { store, state } = &mut *s;
                state.put(ResourceState { attributes: public(attrs), dependencies: node.deps.clone(), ..current.clone() });
                store.save(state)?;
                Ok(Some(current.id))
            }
        }
    }

    /// Desired attributes with the ids of the node's dependencies as the
    /// state now has them (desired values read nothing else; copying the
    /// whole state for every operation made large applies quadratic).
    fn desired(&self, node: &Node, state: &State) -> Attrs {
        let known = node
            .deps
            .iter()
            .filter_map(|d| state.get(d))
            .map(|r| (r.address.clone(), crate::model::Known { id: r.id.clone(), attrs: r.attributes.clone() }))
            .collect();
        let env = Env { spec: self.spec, lookups: self.lookups, known: &known };
        provider::desired(&env, node)
    }
}

/// Attributes fit for the state file: inputs such as user data are dropped.
fn public(mut attrs: Attrs) -> Attrs {
    attrs.retain(|k, _| !k.starts_with('_'));
    attrs
}

fn starting(phase: Phase) -> &'static str {
    match phase {
        Phase::Create => "Creating",
        Phase::Update => "Modifying",
        Phase::Delete => "Destroying",
        Phase::Forget => "Keeping in AWS",
    }
}

fn finished(phase: Phase) -> &'static str {
    match phase {
        Phase::Create => "Creation complete",
        Phase::Update => "Modifications complete",
        Phase::Delete => "Destruction complete",
        Phase::Forget => "Kept in AWS, removed from the state",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Source;
    use crate::engine::plan::Change;
    use serde_json::json;

    fn node(address: &str, deps: &[&str]) -> Node {
        Node { address: address.into(), kind: crate::provider::ec2::instance::KIND, deps: deps.iter().map(|d| d.to_string()).collect(), source: Source::entry(address) }
    }

    fn change(address: &str, action: Action) -> Change {
        Change::new(address, crate::provider::ec2::instance::KIND, action, vec![])
    }

    fn resource(address: &str, deps: &[&str]) -> ResourceState {
        ResourceState {
            address: address.into(),
            kind: crate::provider::ec2::instance::KIND,
            id: format!("id-{address}"),
            attributes: json!({}).as_object().cloned().unwrap(),
            dependencies: deps.iter().map(|d| d.to_string()).collect(),
        }
    }

    fn waits_of<'a>(ops: &'a [Op], address: &str, phase: Phase) -> Vec<(&'a str, Phase)> {
        let op = ops.iter().find(|o| o.address == address && o.phase == phase).unwrap();
        op.waits.iter().map(|&w| (ops[w].address.as_str(), ops[w].phase)).collect()
    }

    #[test]
    fn creates_wait_for_dependencies() {
        let nodes = [node("role", &[]), node("profile", &["role"]), node("sg", &[]), node("inst", &["profile", "sg"])];
        let map: HashMap<&str, &Node> = nodes.iter().map(|n| (n.address.as_str(), n)).collect();
        let plan = Plan { changes: nodes.iter().map(|n| change(&n.address, Action::Create)).collect() };
        let ops = build_ops(&plan, &map, &State::new());
        assert!(waits_of(&ops, "role", Phase::Create).is_empty());
        assert_eq!(waits_of(&ops, "profile", Phase::Create), vec![("role", Phase::Create)]);
        let mut inst = waits_of(&ops, "inst", Phase::Create);
        inst.sort_by_key(|w| w.0);
        assert_eq!(inst, vec![("profile", Phase::Create), ("sg", Phase::Create)]);
    }

    #[test]
    fn deletes_run_dependents_first_and_replace_deletes_before_creating() {
        let nodes = [node("sg", &[]), node("inst", &["sg"])];
        let map: HashMap<&str, &Node> = nodes.iter().map(|n| (n.address.as_str(), n)).collect();
        let mut state = State::new();
        state.put(resource("sg", &[]));
        state.put(resource("inst", &["sg"]));
        let destroy = Plan { changes: vec![change("inst", Action::Delete), change("sg", Action::Delete)] };
        let ops = build_ops(&destroy, &HashMap::new(), &state);
        assert_eq!(waits_of(&ops, "sg", Phase::Delete), vec![("inst", Phase::Delete)]);
        let replace = Plan { changes: vec![change("sg", Action::NoOp), change("inst", Action::Replace)] };
        let ops = build_ops(&replace, &map, &state);
        assert_eq!(waits_of(&ops, "inst", Phase::Create), vec![("inst", Phase::Delete)]);
    }

    #[test]
    fn a_removed_dependency_is_deleted_after_its_dependent_stops_using_it() {
        let nodes = [node("inst", &[])];
        let map: HashMap<&str, &Node> = nodes.iter().map(|n| (n.address.as_str(), n)).collect();
        let mut state = State::new();
        state.put(resource("sg", &[]));
        state.put(resource("inst", &["sg"]));
        let plan = Plan { changes: vec![change("inst", Action::Update), change("sg", Action::Delete)] };
        let ops = build_ops(&plan, &map, &state);
        assert_eq!(waits_of(&ops, "sg", Phase::Delete), vec![("inst", Phase::Update)]);
    }

    #[test]
    fn a_create_first_replacement_deletes_the_old_one_after_its_users_moved_to_the_new_one() {
        let nodes = [node("sg", &[]), node("inst", &["sg"])];
        let map: HashMap<&str, &Node> = nodes.iter().map(|n| (n.address.as_str(), n)).collect();
        let mut state = State::new();
        state.put(resource("sg", &[]));
        state.put(resource("inst", &["sg"]));
        let replace = Change { create_first: true, ..change("sg", Action::Replace) };
        let plan = Plan { changes: vec![replace, change("inst", Action::Update)] };
        let ops = build_ops(&plan, &map, &state);
        assert!(waits_of(&ops, "sg", Phase::Create).is_empty());
        assert_eq!(waits_of(&ops, "inst", Phase::Update), vec![("sg", Phase::Create)]);
        let old = ops.iter().find(|o| o.phase == Phase::Delete).unwrap();
        assert_eq!(old.address, "sg (superseded id-sg)");
        assert_eq!(old.target.as_ref().map(|k| k.id.as_str()), Some("id-sg"));
        let mut waits = waits_of(&ops, &old.address, Phase::Delete);
        waits.sort_by_key(|w| w.0);
        waits.dedup();
        assert_eq!(waits, vec![("inst", Phase::Update), ("sg", Phase::Create)]);
    }
}
