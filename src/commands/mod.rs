//! Glue between the CLI and the engine: load, call, print, exit code.

mod apply;
mod drift;
mod output;
mod plan;
mod state;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::aws::Aws;
use crate::cli::{Cli, Command, Global};
use crate::error::{Error, Result};
use crate::graph::{self, Node};
use crate::plan::{Mode, Plan};
use crate::refresh::Unmanaged;
use crate::resources::{self, Attrs, Lookups};
use crate::spec::Spec;
use crate::state::State;

pub async fn run(cli: Cli) -> Result<u8> {
    let started = std::time::Instant::now();
    let g = &cli.global;
    crate::stats::log_calls(g.verbose >= 2 || std::env::var("GWCTL_LOG").is_ok_and(|v| !v.is_empty()));
    let result = dispatch(g, cli.command).await;
    if g.stats || g.verbose > 0 {
        eprint!("{}", crate::stats::render(&crate::stats::snapshot(), started.elapsed()));
    }
    result
}

async fn dispatch(g: &Global, command: Command) -> Result<u8> {
    match command {
        Command::Validate => validate(g),
        Command::Plan { detailed_exitcode, out } => plan::plan(g, detailed_exitcode, out.as_deref()).await,
        Command::Apply { auto_approve, planfile } => apply::apply(g, Mode::Normal, auto_approve, planfile.as_deref()).await,
        Command::Destroy { auto_approve } => apply::apply(g, Mode::Destroy, auto_approve, None).await,
        Command::Drift => drift::drift(g).await,
        Command::Output { name, raw } => output::output(g, name.as_deref(), raw),
        Command::State { command } => state::state(g, command).await,
        Command::Import { address, id } => state::import(g, &address, &id).await,
        Command::Graph => state::graph(g),
        Command::Init => state::init(g),
        Command::Schema => {
            println!("{}", serde_json::to_string_pretty(&crate::spec::json_schema()).unwrap_or_default());
            Ok(0)
        }
        Command::Man => {
            use clap::CommandFactory;
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
            Ok(0)
        }
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "gwctl", &mut std::io::stdout());
            Ok(0)
        }
        Command::ForceUnlock { id } => {
            let spec = Spec::load(&g.spec)?;
            let info = crate::state::force_unlock(&state_path(g, &spec), &id)?;
            println!("Lock {} removed (was held by `{}`, pid {} on {}).", info.id, info.command, info.pid, info.host);
            Ok(0)
        }
    }
}

fn validate(g: &Global) -> Result<u8> {
    let spec = Spec::load(&g.spec)?;
    let nodes = graph::nodes(&spec);
    if g.json {
        println!("{}", serde_json::json!({"valid": true, "resources": nodes.len()}));
    } else {
        println!("{} is valid: {} resources in project {} ({}).", g.spec.display(), nodes.len(), spec.project, spec.region);
    }
    Ok(0)
}

/// Asks `question` on the terminal; only "yes" goes on. Without a terminal
/// it refuses, saying what to do instead (`otherwise`).
pub fn confirm(question: &str, otherwise: &str) -> Result<()> {
    use std::io::{BufRead, IsTerminal, Write};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Error::Usage(format!("confirmation is needed and standard input is not a terminal: {otherwise}")));
    }
    print!("{question} Only 'yes' will be accepted: ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    if answer.trim() != "yes" {
        return Err(Error::Usage("cancelled: nothing was changed".into()));
    }
    Ok(())
}

/// The state file: `--state`, else `state/<project>.json` beside the spec.
pub fn state_path(g: &Global, spec: &Spec) -> PathBuf {
    if let Some(p) = &g.state {
        return p.clone();
    }
    let dir = g.spec.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    dir.join("state").join(format!("{}.json", spec.project))
}

/// Everything a plan needs, read from AWS.
pub struct Refreshed {
    pub live: HashMap<String, Option<Attrs>>,
    pub unmanaged: Vec<Unmanaged>,
    pub lookups: Lookups,
}

pub async fn refresh(aws: &Aws, spec: &Spec, state: &State, mode: Mode) -> Result<Refreshed> {
    let lookups = async {
        if mode == Mode::Destroy {
            return Ok(Lookups::default());
        }
        resources::lookups(aws, spec, state).await.map_err(Error::Lookup)
    };
    let (refreshed, lookups) = futures::join!(crate::refresh::refresh(aws, state), lookups);
    let refreshed = refreshed?;
    Ok(Refreshed { live: refreshed.live, unmanaged: refreshed.unmanaged, lookups: lookups? })
}

pub fn make_plan(spec: &Spec, nodes: &[Node], state: &State, r: &Refreshed, mode: Mode) -> Plan {
    crate::plan::plan(spec, nodes, state, &r.live, &r.unmanaged, &r.lookups, mode)
}
