//! The top-level error: each layer's error, with the context it lacks.

use crate::provider::aws::AwsError;
use crate::model::Kind;
use crate::spec::SpecError;
use crate::state::StateError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Refresh(#[from] crate::engine::refresh::RefreshError),
    #[error(transparent)]
    SavedPlan(#[from] crate::engine::saved::SavedPlanError),
    #[error("no state at {}: run `gwctl apply` first", path.display())]
    NoState { path: std::path::PathBuf },
    #[error("no output named {name}; the outputs are {}", names.join(", "))]
    NoSuchOutput { name: String, names: Vec<String> },
    #[error("{address} is not in the state; `gwctl state list` shows what is ({count} resources)")]
    NotInState { address: String, count: usize },
    #[error("{address} is not declared in {}; declared addresses: {}", spec.display(), declared.join(", "))]
    NotDeclared { address: String, spec: std::path::PathBuf, declared: Vec<String> },
    #[error("{address} is already in the state as {id}; `gwctl state rm {address}` first to import another")]
    AlreadyInState { address: String, id: String },
    #[error("import {parent} first: {address} belongs to it")]
    ImportParentFirst { parent: String, address: String },
    #[error("there is no {kind} {id} in AWS ({region})")]
    NotInAws { kind: Kind, id: String, region: String },
    #[error("{kind} {id} carries the tag gwctl:project = {owner}: it belongs to project {owner}, not {project}; gwctl never imports another project's resource")]
    ForeignImport { kind: Kind, id: String, owner: String, project: String },
    #[error("{}: {address} is a {kind}, a kind this gwctl does not manage (was the file written by a newer gwctl?); nothing was changed", file.display())]
    UnknownKind { file: std::path::PathBuf, address: String, kind: Kind },
    #[error("{} already exists; gwctl init never overwrites a file", path.display())]
    WouldOverwrite { path: std::path::PathBuf },
    #[error("confirmation is needed and standard input is not a terminal: {otherwise}")]
    NeedsTerminal { otherwise: String },
    #[error("cancelled: nothing was changed")]
    Cancelled,
    #[error("{0}")]
    Flags(&'static str),
    #[error("the confirmation prompt failed: {0}")]
    Prompt(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(
        "refusing to plan: {} not provably project {project}'s; nothing was changed.\n  \
         gwctl changes or deletes only what carries gwctl:project = {project}. Check --state (it names resources \
         another stack owns?), or `gwctl state rm` what this project must not touch",
        resources.iter().map(|(a, p)| if p == crate::engine::plan::UNTAGGED { format!("{a} ({p})") } else { format!("{a} (gwctl:project = {p})") }).collect::<Vec<_>>().join(", ")
    )]
    NotOurs { project: String, resources: Vec<(String, String)> },
    #[error(
        "refusing to destroy: AWS has resources this project made that the state does not record: {}.\n  \
         Destroy deletes only what the state records, dependents first. Run `gwctl apply --refresh-only` to adopt \
         them into the state, then `gwctl destroy`",
        found.join(", ")
    )]
    Unrecorded { found: Vec<String> },
    #[error(
        "the state is configured in {} ([state] backend = \"s3\"), which has none yet, but {} holds this stack: \
         run `gwctl state migrate` to move it there (planning from an empty state would build the stack a second time)",
        remote.display(), local.display()
    )]
    LocalStateNotMigrated { local: std::path::PathBuf, remote: std::path::PathBuf },
    #[error("{failed} operation(s) failed; the state records what was done")]
    ApplyFailed { failed: usize },
}

impl From<(Kind, AwsError)> for Error {
    fn from(e: (Kind, AwsError)) -> Self {
        Error::Refresh(e.into())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
