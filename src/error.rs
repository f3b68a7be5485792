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
        "refusing to plan: {} belong(s) to another project ({}), not {project}; nothing was changed.\n  \
         The state file names resources another stack owns: check --state, or remove them with `gwctl state rm`",
        resources.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>().join(", "),
        resources.iter().map(|(_, p)| format!("gwctl:project = {p}")).collect::<std::collections::BTreeSet<_>>().into_iter().collect::<Vec<_>>().join(", ")
    )]
    NotOurs { project: String, resources: Vec<(String, String)> },
    #[error("{failed} operation(s) failed; the state records what was done")]
    ApplyFailed { failed: usize },
}

impl From<(Kind, AwsError)> for Error {
    fn from((kind, source): (Kind, AwsError)) -> Self {
        Error::Refresh { kind, source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
