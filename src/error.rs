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
    #[error("reading {kind} resources from AWS: {source}")]
    Refresh { kind: Kind, source: AwsError },
    #[error("looking up values the spec refers to: {0}")]
    Lookup(AwsError),
    #[error(transparent)]
    SavedPlan(#[from] crate::engine::saved::SavedPlanError),
    #[error("{0}")]
    Usage(String),
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
    #[error("{failed} operation(s) failed; the state records what was done")]
    ApplyFailed { failed: usize },
}

impl From<(Kind, AwsError)> for Error {
    fn from((kind, source): (Kind, AwsError)) -> Self {
        Error::Refresh { kind, source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
