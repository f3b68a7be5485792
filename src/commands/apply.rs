use std::io::IsTerminal;
use std::time::Instant;

use crate::apply::Applier;
use crate::aws::Aws;
use crate::cli::Global;
use crate::error::{Error, Result};
use crate::graph;
use crate::plan::{render, Mode};
use crate::spec::Spec;
use crate::plan::saved::SavedPlan;
use crate::state::Store;

/// `gwctl apply` and `gwctl destroy`.
pub async fn apply(g: &Global, mode: Mode, auto_approve: bool, planfile: Option<&std::path::Path>) -> Result<u8> {
    let spec = Spec::load(&g.spec)?;
    let nodes = graph::nodes(&spec);
    let command = if mode == Mode::Destroy { "gwctl destroy" } else { "gwctl apply" };
    let (mut store, mut state) = Store::open(&super::state_path(g, &spec), command, g.lock_timeout)?;
    let aws = Aws::connect(&spec.region).await;
    let saved = match planfile {
        Some(path) => {
            let saved = SavedPlan::read(path)?;
            saved.check_fresh(path, &spec, &state)?;
            Some(saved)
        }
        None => None,
    };
    // Until the first change is made, an interrupt just stops (releasing the lock).
    let (refreshed, plan) = match saved {
        Some(saved) => {
            let plan = saved.plan();
            (super::Refreshed { live: saved.live, unmanaged: Vec::new(), lookups: saved.lookups }, plan)
        }
        None => {
            let refreshed = tokio::select! {
                r = super::refresh(&aws, &spec, &state, mode) => r?,
                _ = crate::apply::interrupt() => return Ok(interrupted_before_changes()),
            };
            let plan = super::make_plan(&spec, &nodes, &state, &refreshed, mode);
            (refreshed, plan)
        }
    };
    // A saved plan was reviewed when it was made.
    let auto_approve = auto_approve || planfile.is_some();
    crate::apply::prune_gone(&plan, &refreshed.live, &mut store, &mut state)?;
    print!("{}", render::human_styled(&plan, render::Style::for_stdout()));
    if !plan.has_changes() {
        return Ok(0);
    }
    if !auto_approve {
        tokio::select! {
            answer = tokio::task::spawn_blocking(move || confirm(mode)) => answer.map_err(|e| Error::Usage(e.to_string()))??,
            _ = crate::apply::interrupt() => return Ok(interrupted_before_changes()),
        }
    }
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
    if outcome.failed.is_empty() {
        println!(
            "\n{what} complete after {secs:.1}s: {} added, {} changed, {} destroyed.",
            outcome.added, outcome.changed, outcome.destroyed
        );
        Ok(0)
    } else {
        println!(
            "\n{what} incomplete after {secs:.1}s: {} added, {} changed, {} destroyed, {} failed, {} skipped.",
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
