//! The top-level error: each layer's error, with the context it lacks.

use crate::aws::AwsError;
use crate::graph::Kind;
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
    SavedPlan(#[from] crate::plan::saved::SavedPlanError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{failed} operation(s) failed; the state records what was done")]
    ApplyFailed { failed: usize },
}

impl From<(Kind, AwsError)> for Error {
    fn from((kind, source): (Kind, AwsError)) -> Self {
        Error::Refresh { kind, source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
