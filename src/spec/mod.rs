//! The spec: `gateway.toml` parsed (`raw`) and checked (`validate`) into the
//! typed [`Spec`] the rest of gwctl works from.

pub mod findings;
mod raw;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use validate::parse;

/// The JSON Schema of `gateway.toml`, from the types the parser reads it into,
/// for TOML editors (Taplo, Even Better TOML) to complete and check keys.
pub fn json_schema() -> serde_json::Value {
    let mut schema = schemars::schema_for!(raw::RawSpec).to_value();
    if let Some(obj) = schema.as_object_mut() {
        obj.insert("title".into(), "gateway.toml (gwctl)".into());
    }
    schema
}

/// An IP protocol as EC2 reports it in a rule: the names it uses for the
/// numbers it names (6 tcp, 17 udp, 1 icmp, 58 icmpv6), `-1` for all, other
/// numbers as they are.
pub(crate) fn protocol_name(p: &str) -> String {
    match p.trim().to_ascii_lowercase().as_str() {
        "6" => "tcp".into(),
        "17" => "udp".into(),
        "1" => "icmp".into(),
        "58" => "icmpv6".into(),
        "all" | "-1" => "-1".into(),
        other => other.to_string(),
    }
}

/// A validated spec. Every reference in it names a declared resource.
#[derive(Debug, Clone)]
pub struct Spec {
    pub file: PathBuf,
    pub project: String,
    pub region: String,
    pub tags: BTreeMap<String, String>,
    pub roles: BTreeMap<String, RoleSpec>,
    pub security_groups: BTreeMap<String, SecurityGroupSpec>,
    pub instances: BTreeMap<String, InstanceSpec>,
    pub log_groups: BTreeMap<String, LogGroupSpec>,
    pub user_pools: BTreeMap<String, UserPoolSpec>,
    pub apis: BTreeMap<String, ApiSpec>,
    pub drift_ignore: Vec<String>,
    /// Where the state lives when not in a local file (`[state]`).
    pub state_backend: Option<S3StateSpec>,
    /// Finding ids acknowledged in `[lint] allow`, with their reasons.
    pub lint_allow: BTreeMap<String, String>,
    /// Where things are declared, as (line, column), for messages about
    /// the spec after it is valid: keys like `security_group.backend`,
    /// `security_group.backend.ingress[0]`, `api.main.routes.GET /health`.
    pub positions: BTreeMap<String, (usize, usize)>,
}

impl Spec {
    /// Reads and validates the spec file at `path`: a regular file of at
    /// most [`crate::files::SPEC_MAX`] bytes.
    pub fn load(path: &Path) -> Result<Spec, SpecError> {
        let text = crate::files::read_capped_string(path, crate::files::SPEC_MAX).map_err(|source| SpecError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        parse(path, &text)
    }

    /// Where `key` is declared, or failing that the nearest enclosing
    /// declaration (`a.b.c`, then `a.b`, then `a`); line 1 at worst.
    pub fn position(&self, key: &str) -> (usize, usize) {
        let mut key = key;
        loop {
            if let Some(p) = self.positions.get(key) {
                return *p;
            }
            match key.rfind(['.', '[']) {
                Some(i) => key = &key[..i],
                None => return (1, 1),
            }
        }
    }

    /// The AWS name of a named resource of this project, e.g. `job-work-planner-backend`.
    pub fn aws_name(&self, name: &str) -> String {
        format!("{}-{}", self.project, name)
    }
}

#[derive(Debug, Clone)]
pub struct RoleSpec {
    pub managed_policies: Vec<String>,
    pub inline_policies: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone)]
pub struct SecurityGroupSpec {
    pub description: String,
    pub vpc_id: Option<String>,
    pub ingress: Vec<Rule>,
    pub egress: Vec<Rule>,
}

/// One security group rule for one CIDR, in the normal form AWS reports:
/// protocol `-1` (all) carries no ports.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
pub struct Rule {
    pub protocol: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub from_port: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub to_port: Option<i32>,
    /// An address block, or (in attributes) a security group's id.
    pub cidr: String,
    /// In the spec: the declared security group that is the source or
    /// destination instead of `cidr` (desired attributes put its id in `cidr`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub security_group: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmiSource {
    Id(String),
    /// An SSM public parameter path whose value is an AMI id.
    Ssm(String),
}

impl AmiSource {
    pub fn as_spec_str(&self) -> String {
        match self {
            AmiSource::Id(id) => id.clone(),
            AmiSource::Ssm(path) => format!("ssm:{path}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct UserData {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct InstanceSpec {
    pub ami: AmiSource,
    pub instance_type: String,
    pub role: Option<String>,
    pub security_groups: Vec<String>,
    pub user_data: Option<UserData>,
    pub require_imdsv2: bool,
    pub encrypt_root_volume: bool,
    pub root_volume_size: Option<i32>,
    pub subnet_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct LogGroupSpec {
    pub name: String,
    pub retention_days: Option<i32>,
    /// `destroy` leaves the group and its logs in AWS and forgets it.
    pub retain_on_destroy: bool,
}

#[derive(Debug, Clone)]
pub struct ApiSpec {
    pub name: String,
    pub backend: String,
    pub authorizers: BTreeMap<String, AuthorizerSpec>,
    pub stage: Option<StageSpec>,
    pub routes: BTreeMap<String, RouteSpec>,
    /// The backend port the integration calls.
    pub port: u16,
    pub vpc_link: Option<VpcLinkSpec>,
}

/// A private integration (docs/design.md §8).
#[derive(Debug, Clone)]
pub struct VpcLinkSpec {
    pub security_groups: Vec<String>,
    /// Empty: the default subnets of the backend's VPC.
    pub subnets: Vec<String>,
}

/// A state kept in S3 (docs/design.md §10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3StateSpec {
    pub bucket: String,
    pub key: String,
    pub region: String,
}

/// An Amazon Cognito user pool (docs/design.md §9).
#[derive(Debug, Clone)]
pub struct UserPoolSpec {
    pub name: String,
    pub deletion_protection: bool,
    /// "OFF", "OPTIONAL" or "ON" (TOTP).
    pub mfa: String,
    pub password_min_length: i32,
    pub clients: BTreeMap<String, UserPoolClientSpec>,
}

/// An app client of a user pool, without a secret.
#[derive(Debug, Clone)]
pub struct UserPoolClientSpec {
    /// ExplicitAuthFlows, each `ALLOW_…`, sorted.
    pub auth_flows: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct AuthorizerSpec {
    /// An external issuer; empty when `user_pool` derives it.
    pub issuer: String,
    pub audience: Vec<String>,
    pub identity_source: String,
    /// A declared user pool, and the clients of it that are the audience.
    pub user_pool: Option<String>,
    pub clients: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct StageSpec {
    pub name: String,
    pub auto_deploy: bool,
    pub throttle_rate: f64,
    pub throttle_burst: i32,
    pub access_log: Option<String>,
    /// Per-route CloudWatch metrics (DetailedMetricsEnabled).
    pub detailed_metrics: bool,
}

#[derive(Debug, Clone)]
pub struct RouteSpec {
    /// `None` for `auth = "none"`, else the authorizer's name.
    pub authorizer: Option<String>,
}

/// One thing wrong with the spec, at a position in the file.
#[derive(Debug, Clone)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
    /// The source line, or at most 120 characters of it around the column
    /// with `…` where it was cut; where the span starts in it (in
    /// characters); and how many characters of the span it shows.
    pub source_line: String,
    pub caret: usize,
    pub width: usize,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )?;
        let gutter = self.line.to_string().len();
        writeln!(f, "{:gutter$} |", "")?;
        writeln!(f, "{} | {}", self.line, self.source_line)?;
        // A tab before the caret is kept, so that the caret lines up with
        // the character above it as the terminal expands both.
        let mut pad: String = self.source_line.chars().take(self.caret).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
        pad.extend(std::iter::repeat(' ').take(self.caret.saturating_sub(pad.chars().count())));
        write!(f, "{:gutter$} | {pad}{}", "", "^".repeat(self.width.max(1)))?;
        if let Some(hint) = &self.hint {
            write!(f, "\n{:gutter$} = hint: {hint}", "")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read spec file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", render_problems(.0))]
    Invalid(Vec<Problem>),
}

fn render_problems(problems: &[Problem]) -> String {
    let mut out = String::new();
    for (i, p) in problems.iter().enumerate() {
        if i > 0 {
            out.push_str("\n\n");
        }
        out.push_str(&p.to_string());
    }
    let n = problems.len();
    out.push_str(&format!(
        "\n\nthe spec has {n} problem{}; nothing was sent to AWS",
        if n == 1 { "" } else { "s" }
    ));
    out
}
