//! The kinds of resource gwctl manages.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The ten kinds of resource gwctl manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    IamRole,
    InstanceProfile,
    SecurityGroup,
    Instance,
    LogGroup,
    Api,
    Authorizer,
    Integration,
    Route,
    Stage,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::IamRole => "iam_role",
            Kind::InstanceProfile => "instance_profile",
            Kind::SecurityGroup => "security_group",
            Kind::Instance => "instance",
            Kind::LogGroup => "log_group",
            Kind::Api => "api",
            Kind::Authorizer => "authorizer",
            Kind::Integration => "integration",
            Kind::Route => "route",
            Kind::Stage => "stage",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
