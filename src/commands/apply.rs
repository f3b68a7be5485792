use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::Instant;

use crate::engine::apply::Applier;
use crate::provider::aws::Aws;
use crate::cli::Global;
use crate::error::{Error, Result};
use crate::graph;
use crate::engine::Mode;
use crate::engine::render;
use crate::spec::Spec;
use crate::engine::saved::SavedPlan;
use crate::state::Store;

/// `gwctl apply` and `gwctl destroy`.
pub async fn apply(g: &Global, mode: Mode, auto_approve: bool, refresh_only: bool, planfile: Option<&std::path::Path>) -> Result<u8> {
    if refresh_only && planfile.is_some() {
        return Err(Error::Flags("--refresh-only takes no plan file: it reads AWS itself"));
    }
    let spec = Spec::load(&g.spec)?;
    let nodes = crate::provider::nodes(&spec);
    let command = if mode == Mode::Destroy { "gwctl destroy" } else { "gwctl apply" };
    let (mut store, mut state) = super::open_state(g, &spec, command)?;
    let aws = Aws::connect(&spec.region).await;
    super::warn_state_bucket(g, &spec).await;
    let saved = match planfile {
        Some(path) => {
            let saved = SavedPlan::read(path)?;
            super::known_kinds(path, saved.changes.iter().map(|c| (&c.address, c.kind)))?;
            saved.check_fresh(path, &spec, &state)?;
            Some(saved)
        }
        None => None,
    };
    // Until the first change is made, an interrupt just stops (releasing the lock).
    let (refreshed, plan) = match saved {
        Some(saved) => {
            let plan = saved.plan();
            (crate::engine::refresh::Refreshed { live: saved.live, unmanaged: Vec::new(), lookups: saved.lookups, adopted: HashMap::new(), conflicts: HashMap::new() }, plan)
        }
        None => {
            let refreshed = tokio::select! {
                r = super::refresh(&aws, &spec, &nodes, &state, mode) => r?,
                _ = crate::signal::interrupt() => return Ok(interrupted_before_changes()),
            };
            let plan = super::make_plan(&spec, &nodes, &state, &refreshed, mode)?;
            (refreshed, plan)
        }
    };
    // A saved plan was reviewed when it was made.
    let auto_approve = auto_approve || planfile.is_some();
    if refresh_only {
        return accept_refresh(&plan, &nodes, &refreshed.live, &mut store, &mut state, auto_approve).await;
    }
    // What destroy keeps (retain_on_destroy) may well be in AWS without a state entry.
    let unrecorded: Vec<_> = refreshed
        .adopted
        .iter()
        .filter(|(a, _)| !nodes.iter().any(|n| &n.address == *a && crate::provider::of(n.kind).retained(&spec, a)))
        .collect();
    if mode == Mode::Destroy && !unrecorded.is_empty() {
        let mut found: Vec<String> = unrecorded.iter().map(|(a, k)| format!("{a} ({})", k.id)).collect();
        found.sort();
        return Err(Error::Unrecorded { found });
    }
    if mode == Mode::Destroy && !plan.has_changes() {
        println!("Nothing to destroy: the state records no resource that AWS still has.");
        crate::engine::apply::record_refresh(&plan, &nodes, &refreshed.live, false, &mut store, &mut state)?;
        return Ok(0);
    }
    if mode == Mode::Normal {
        super::print_findings(g, &spec);
    }
    print!("{}", render::human_styled(&plan, render::Style::for_stdout()));
    if !plan.has_changes() {
        // Nothing to change in AWS; the state still records what was read.
        crate::engine::apply::record_refresh(&plan, &nodes, &refreshed.live, false, &mut store, &mut state)?;
        return Ok(0);
    }
    if !auto_approve {
        tokio::select! {
            answer = tokio::task::spawn_blocking(move || confirm(mode)) => answer.map_err(|e| Error::Prompt(e.to_string()))??,
            _ = crate::signal::interrupt() => return Ok(interrupted_before_changes()),
        }
    }
    crate::engine::apply::record_refresh(&plan, &nodes, &refreshed.live, false, &mut store, &mut state)?;
    println!();
    let started = Instant::now();
    let live = std::io::stdout().is_terminal() && !g.no_progress && std::env::var("TERM").map_or(true, |t| t != "dumb");
    let progress: std::sync::Arc<dyn crate::progress::Report + Send> =
        if live { std::sync::Arc::new(crate::progress::Live::default()) } else { std::sync::Arc::new(crate::progress::Plain) };
    let ticker = {
        let progress = progress.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                every.tick().await;
                progress.tick();
            }
        })
    };
    let applier = Applier {
        aws: &aws,
        spec: &spec,
        nodes: &nodes,
        lookups: &refreshed.lookups,
        live: &refreshed.live,
        parallelism: g.parallelism,
        progress: &*progress,
    };
    let ran = applier.run(&plan, store, state).await;
    ticker.abort();
    progress.finish();
    let (outcome, _state) = ran?;
    let what = if mode == Mode::Destroy { "Destroy" } else { "Apply" };
    let secs = started.elapsed().as_secs_f64();
    if outcome.interrupted {
        println!(
            "\n{what} interrupted after {secs:.1}s: {} added, {} changed, {} destroyed, {} failed; not started: {}.",
            outcome.added,
            outcome.changed,
            outcome.destroyed,
            outcome.failed.len(),
            if outcome.not_started.is_empty() { "nothing".to_string() } else { outcome.not_started.join(", ") }
        );
        println!("The state records everything that was done. Run `gwctl {}` again to finish.", if mode == Mode::Destroy { "destroy" } else { "apply" });
        return Ok(130);
    }
    for (addr, reason) in &outcome.skipped {
        println!("{addr}: skipped ({reason})");
    }
    if g.stats || g.verbose > 0 {
        let cp = outcome.critical_path.as_secs_f64();
        let bound = outcome.lower_bound.as_secs_f64();
        let walk = outcome.elapsed.as_secs_f64();
        let ratio = if bound > 0.0 { walk / bound } else { 1.0 };
        eprintln!(
            "Critical path {cp:.2}s; lower bound at parallelism {} {bound:.2}s; the walk took {walk:.2}s ({ratio:.2}x the bound).",
            g.parallelism
        );
    }
    let mut adopted = match plan.summary().adopt {
        0 => String::new(),
        n => format!(", {n} adopted"),
    };
    if !outcome.kept.is_empty() {
        let kept: Vec<String> = outcome
            .kept
            .iter()
            .map(|a| match kept_name(&refreshed.live, a) {
                Some(name) => format!("{a} ({name})"),
                None => a.clone(),
            })
            .collect();
        adopted.push_str(&format!("; kept in AWS: {}", kept.join(", ")));
    }
    if outcome.failed.is_empty() {
        println!(
            "\n{what} complete after {secs:.1}s: {} added, {} changed, {} destroyed{adopted}.",
            outcome.added, outcome.changed, outcome.destroyed
        );
        Ok(0)
    } else {
        println!(
            "\n{what} incomplete after {secs:.1}s: {} added, {} changed, {} destroyed{adopted}, {} failed, {} skipped.",
            outcome.added,
            outcome.changed,
            outcome.destroyed,
            outcome.failed.len(),
            outcome.skipped.len()
        );
        for (addr, err) in &outcome.failed {
            eprintln!("error: {addr}: {err}");
        }
        Err(Error::ApplyFailed { failed: outcome.failed.len() })
    }
}

/// `gwctl apply --refresh-only`: shows how the state differs from what AWS
/// has (and what it would adopt), asks, and records it; AWS is not changed.
async fn accept_refresh(
    plan: &crate::engine::plan::Plan,
    nodes: &[graph::Node],
    live: &HashMap<String, Option<crate::model::Attrs>>,
    store: &mut Store,
    state: &mut crate::state::State,
    auto_approve: bool,
) -> Result<u8> {
    let mut lines = Vec::new();
    for r in &state.resources {
        match live.get(&r.address) {
            Some(None) if plan.get(&r.address).is_none_or(|c| c.action == crate::engine::plan::Action::Delete) => {
                lines.push(format!("  - {} ({} {}): gone from AWS; will be removed from the state", r.address, r.kind, r.id));
            }
            Some(Some(now)) => {
                let diff = crate::engine::plan::diff(Some(&r.attributes), now, &[]);
                if !diff.is_empty() {
                    lines.push(format!("  ~ {} ({}): the state takes what AWS has", r.address, r.kind));
                    for d in diff {
                        let show = |v: &Option<serde_json::Value>| v.as_ref().map(render::value).unwrap_or_else(|| "(none)".into());
                        lines.push(format!("      {} = {} -> {}", d.path, show(&d.before), show(&d.after)));
                    }
                }
            }
            _ => {}
        }
    }
    for c in plan.changes.iter().filter(|c| c.adopt.is_some()) {
        let id = c.adopt.as_ref().map(|k| k.id.as_str()).unwrap_or_default();
        lines.push(format!("  <= {} ({} {id}): found in AWS; will be adopted into the state", c.address, c.kind));
    }
    if lines.is_empty() {
        println!("No changes. The state matches AWS.");
        return Ok(0);
    }
    println!("gwctl will update the state to match AWS (AWS itself is not changed):\n");
    println!("{}", lines.join("\n"));
    if !auto_approve {
        let question = "\nWould you like to update the state to reflect these values?";
        tokio::select! {
            answer = tokio::task::spawn_blocking(move || super::confirm(question, "review the changes above and run `gwctl apply --refresh-only --auto-approve`")) => {
                answer.map_err(|e| Error::Prompt(e.to_string()))??
            }
            _ = crate::signal::interrupt() => return Ok(interrupted_before_changes()),
        }
    }
    let changed = crate::engine::apply::record_refresh(plan, nodes, live, true, store, state)?;
    println!("\nRefresh complete: {changed} state entr{} updated; AWS was not changed.", if changed == 1 { "y" } else { "ies" });
    Ok(0)
}

fn interrupted_before_changes() -> u8 {
    println!("\nInterrupted before any change was made; nothing was changed.");
    130
}

fn confirm(mode: Mode) -> Result<()> {
    let (cmd, question) = match mode {
        Mode::Destroy => ("destroy", "Destroy all of these resources?"),
        Mode::Normal => ("apply", "Do you want to perform these actions?"),
    };
    super::confirm(&format!("\n{question}"), &format!("review the plan above and run `gwctl {cmd} --auto-approve`"))
}

/// The name a kept resource has in AWS, for the summary.
fn kept_name(live: &HashMap<String, Option<crate::model::Attrs>>, address: &str) -> Option<String> {
    let attrs = live.get(address)?.as_ref()?;
    attrs.get("name").and_then(|v| v.as_str()).map(str::to_string)
}
