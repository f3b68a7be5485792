//! Glue between the CLI and the engine: load, call, print, exit code.

mod apply;
mod drift;
mod dot;
mod import;
mod init;
mod output;
mod plan;
mod state;
mod verify;

use std::path::{Path, PathBuf};

use crate::provider::aws::Aws;
use crate::cli::{Cli, Command, Global};
use crate::error::{Error, Result};
use crate::graph::Node;
use crate::engine::plan::Plan;
use crate::engine::Mode;
use crate::spec::Spec;
use crate::state::State;

pub async fn run(cli: Cli) -> Result<u8> {
    let started = std::time::Instant::now();
    let g = &cli.global;
    crate::provider::stats::log_calls(g.verbose >= 2 || std::env::var("GWCTL_LOG").is_ok_and(|v| !v.is_empty()));
    {
        use crate::provider::pace;
        let mode = match g.pacing {
            crate::cli::Pacing::Adaptive => pace::Mode::Adaptive,
            crate::cli::Pacing::Fixed => pace::Mode::Fixed,
            crate::cli::Pacing::Off => pace::Mode::Off,
        };
        pace::configure(pace::Settings { mode, apigateway: pace::Quota { rate: g.apigateway_rate, burst: g.apigateway_burst } });
    }
    let result = dispatch(g, cli.command).await;
    if g.stats || g.verbose > 0 {
        eprint!("{}", crate::provider::stats::render(&crate::provider::stats::snapshot(), started.elapsed()));
    }
    result
}

async fn dispatch(g: &Global, command: Command) -> Result<u8> {
    match command {
        Command::Validate { strict, format } => validate(g, strict, format),
        Command::Plan { detailed_exitcode, out } => plan::plan(g, detailed_exitcode, out.as_deref()).await,
        Command::Apply { auto_approve, refresh_only, planfile } => apply::apply(g, Mode::Normal, auto_approve, refresh_only, planfile.as_deref()).await,
        Command::Destroy { auto_approve } => apply::apply(g, Mode::Destroy, auto_approve, false, None).await,
        Command::Drift => drift::drift(g).await,
        Command::Verify { endpoint, token_env, throttle, log_wait } => {
            verify::verify(g, crate::engine::verify::Options { endpoint, token_env, throttle, log_wait }).await
        }
        Command::Output { name, raw } => output::output(g, name.as_deref(), raw),
        Command::State { command } => state::state(g, command).await,
        Command::Import { address, id } => import::import(g, &address, &id).await,
        Command::Graph => dot::graph(g),
        Command::Init => init::init(g),
        Command::IamPolicy { role } => {
            let spec = Spec::load(&g.spec)?;
            let role = match role {
                crate::cli::PolicyRole::Apply => crate::provider::PolicyFor::Apply,
                crate::cli::PolicyRole::Drift => crate::provider::PolicyFor::Drift,
                crate::cli::PolicyRole::Verify => crate::provider::PolicyFor::Verify,
            };
            let policy = crate::provider::policy(&spec, role);
            println!("{}", serde_json::to_string_pretty(&policy).unwrap_or_default());
            Ok(0)
        }
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
            let info = crate::state::force_unlock(&state_location(g, &spec), &id)?;
            println!("Lock {} removed (was held by `{}`, pid {} on {}).", info.id, info.command, info.pid, info.host);
            Ok(0)
        }
    }
}

fn validate(g: &Global, strict: bool, format: crate::cli::ValidateFormat) -> Result<u8> {
    use crate::cli::ValidateFormat;
    let json = g.json || format == ValidateFormat::Json;
    let spec = match Spec::load(&g.spec) {
        Ok(spec) => spec,
        Err(crate::spec::SpecError::Invalid(problems)) if format == ValidateFormat::Sarif => {
            println!("{:#}", crate::spec::findings::sarif(&[], &problems, &g.spec));
            return Ok(1);
        }
        Err(crate::spec::SpecError::Invalid(problems)) if json => {
            let errors: Vec<_> = problems
                .iter()
                .map(|p| serde_json::json!({"line": p.line, "column": p.column, "message": p.message, "hint": p.hint}))
                .collect();
            println!("{}", serde_json::json!({"valid": false, "errors": errors, "findings": []}));
            return Ok(1);
        }
        Err(e) => return Err(e.into()),
    };
    let nodes = crate::provider::nodes(&spec);
    let findings = crate::spec::findings::findings(&spec);
    let open = findings.iter().filter(|f| f.acknowledged.is_none()).count();
    if format == ValidateFormat::Sarif {
        println!("{:#}", crate::spec::findings::sarif(&findings, &[], &g.spec));
    } else if json {
        println!("{}", serde_json::json!({"valid": true, "resources": nodes.len(), "errors": [], "findings": findings}));
    } else {
        println!("{} is valid: {} resources in project {} ({}).", g.spec.display(), nodes.len(), spec.project, spec.region);
        if !findings.is_empty() {
            print!("\n{}", crate::spec::findings::render(&findings, &g.spec));
        }
    }
    Ok(if strict && open > 0 { 1 } else { 0 })
}

/// The spec's security findings, on stderr above a plan (stdout stays the
/// plan alone); nothing when there are none.
pub fn print_findings(g: &Global, spec: &Spec) {
    let findings = crate::spec::findings::findings(spec);
    if !findings.is_empty() {
        eprintln!("{}", crate::spec::findings::render(&findings, &g.spec));
    }
}

/// Warns on stderr when the S3 bucket holding the state keeps no old
/// versions (an overwritten or deleted state could not be recovered) or
/// does not encrypt by default.
pub async fn warn_state_bucket(g: &Global, spec: &Spec) {
    let crate::state::Location::S3(loc) = state_location(g, spec) else { return };
    let (versioning, encryption) = crate::state::s3::bucket_safety(&loc).await;
    if versioning == Some(false) {
        eprintln!(
            "warning: the state bucket {} has versioning off: an overwritten or deleted state cannot be recovered. \
             Enable it: aws s3api put-bucket-versioning --bucket {} --versioning-configuration Status=Enabled",
            loc.bucket, loc.bucket
        );
    }
    if encryption == Some(false) {
        eprintln!("warning: the state bucket {} has no default encryption; the state names every resource of the stack", loc.bucket);
    }
}

/// Everything a plan needs, read from AWS.
pub async fn refresh(aws: &Aws, spec: &Spec, nodes: &[Node], state: &State, mode: Mode) -> Result<crate::engine::refresh::Refreshed> {
    Ok(crate::engine::refresh::read_all(aws, spec, nodes, state, mode).await?)
}

/// Asks `question` on the terminal; only "yes" goes on. Without a terminal
/// it refuses, saying what to do instead (`otherwise`).
pub fn confirm(question: &str, otherwise: &str) -> Result<()> {
    use std::io::{BufRead, IsTerminal, Write};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Error::NeedsTerminal { otherwise: otherwise.to_string() });
    }
    print!("{question} Only 'yes' will be accepted: ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    if answer.trim() != "yes" {
        return Err(Error::Cancelled);
    }
    Ok(())
}

/// Where the state is: `--state FILE`, else the spec's `[state]` backend,
/// else the local file.
pub fn state_location(g: &Global, spec: &Spec) -> crate::state::Location {
    match (&g.state, &spec.state_backend) {
        (None, Some(s3)) => crate::state::Location::S3(s3.clone()),
        _ => crate::state::Location::Local(state_path(g, spec)),
    }
}

/// The local state file: `--state`, else `state/<project>.json` beside the spec.
pub fn state_path(g: &Global, spec: &Spec) -> PathBuf {
    if let Some(p) = &g.state {
        return p.clone();
    }
    let dir = g.spec.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    dir.join("state").join(format!("{}.json", spec.project))
}

/// The spec's file name, as the state records it (relative to the spec's folder).
fn spec_file(g: &Global) -> String {
    g.spec.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Refuses to start a new state in S3 while the local state file still
/// holds the stack (the backend was switched without `gwctl state migrate`),
/// or where a renamed project left its old state beside the key.
fn check_new_s3_state(g: &Global, spec: &Spec, loc: &crate::spec::S3StateSpec) -> Result<()> {
    let local = state_path(g, spec);
    if crate::state::read(&crate::state::Location::Local(local.clone()))?.is_some_and(|s| !s.resources.is_empty()) {
        return Err(Error::LocalStateNotMigrated { local, remote: crate::state::s3::display(loc) });
    }
    let found = crate::state::s3::block(crate::state::s3::find_renamed(loc, &spec.project, &spec_file(g)))?;
    match found {
        Some(old) => Err(renamed(crate::state::s3::display(loc), spec, old)),
        None => Ok(()),
    }
}

/// The refusal to start a state for `spec`'s project at `path` while `old`
/// (path and state) holds the stack under its former name.
fn renamed(path: PathBuf, spec: &Spec, (old_path, old): (PathBuf, State)) -> Error {
    crate::state::StateError::Renamed { path, project: spec.project.clone(), old: old.project, old_path, count: old.resources.len() }.into()
}

/// Refuses to start a new state where a renamed project left its old one,
/// unless `--state` names the file explicitly.
fn check_not_renamed(g: &Global, spec: &Spec, path: &Path) -> Result<()> {
    if g.state.is_some() {
        return Ok(());
    }
    match crate::state::find_renamed(path, &spec.project, &spec_file(g)) {
        Some(old) => Err(renamed(path.to_path_buf(), spec, old)),
        None => Ok(()),
    }
}

/// The state, read without a lock (plan, drift, output, state list/show).
/// Refused before any AWS call when it belongs to another project or region,
/// or when it is missing because the project was renamed.
pub fn read_state(g: &Global, spec: &Spec) -> Result<State> {
    let location = state_location(g, spec);
    let path = location.display();
    let mut state = match crate::state::read(&location)? {
        Some(state) => state,
        None => {
            match &location {
                crate::state::Location::Local(_) => check_not_renamed(g, spec, &path)?,
                crate::state::Location::S3(loc) => check_new_s3_state(g, spec, loc)?,
            }
            State::new()
        }
    };
    state.claim(&path, &spec.project, &spec.region, &spec_file(g))?;
    known_kinds(&path, state.resources.iter().map(|r| (&r.address, r.kind)))?;
    Ok(state)
}

/// Refuses a file (state or saved plan) that records a kind gwctl does not
/// manage, before anything acts on it.
pub fn known_kinds<'a>(file: &Path, resources: impl IntoIterator<Item = (&'a String, crate::model::Kind)>) -> Result<()> {
    match resources.into_iter().find(|(_, kind)| !crate::provider::known(*kind)) {
        Some((address, kind)) => Err(Error::UnknownKind { file: file.to_path_buf(), address: address.clone(), kind }),
        None => Ok(()),
    }
}

/// The state, locked for writing, with the same checks as [`read_state`].
pub fn open_state(g: &Global, spec: &Spec, command: &str) -> Result<(crate::state::Store, State)> {
    let location = state_location(g, spec);
    let path = location.display();
    if matches!(location, crate::state::Location::Local(_)) && !path.exists() {
        check_not_renamed(g, spec, &path)?;
    }
    let (store, mut state) = crate::state::Store::open(&location, command, g.lock_timeout)?;
    if let (crate::state::Location::S3(loc), false) = (&location, store.exists()) {
        check_new_s3_state(g, spec, loc)?;
    }
    state.claim(&path, &spec.project, &spec.region, &spec_file(g))?;
    known_kinds(&path, state.resources.iter().map(|r| (&r.address, r.kind)))?;
    Ok((store, state))
}

/// The plan, refused when it would touch another project's resources.
pub fn make_plan(spec: &Spec, nodes: &[Node], state: &State, r: &crate::engine::refresh::Refreshed, mode: Mode) -> Result<Plan> {
    let mut plan = crate::engine::plan::plan(spec, nodes, state, &r.live, &r.unmanaged, &r.adopted, &r.lookups, mode);
    // A create AWS will refuse says so in the plan, before anything is made.
    for c in plan.changes.iter_mut().filter(|c| c.action == crate::engine::plan::Action::Create) {
        if let Some(why) = r.conflicts.get(&c.address) {
            c.reason = Some(why.clone());
        }
    }
    let foreign = crate::engine::plan::foreign(&plan, state, &r.live, &spec.project);
    if !foreign.is_empty() {
        return Err(Error::NotOurs { project: spec.project.clone(), resources: foreign });
    }
    Ok(plan)
}
