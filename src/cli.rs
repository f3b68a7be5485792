//! Command-line definitions only.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "gwctl", version, about = "Provision the Job Work Planner's API Gateway + EC2 stack from gateway.toml")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct Global {
    /// The spec file.
    #[arg(long, global = true, default_value = "gateway.toml", value_name = "FILE")]
    pub spec: PathBuf,
    /// The state file (default: state/<project>.json beside the spec).
    #[arg(long, global = true, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Print data as JSON.
    #[arg(long, global = true)]
    pub json: bool,
    /// More detail.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// How long to wait for the state lock (e.g. 30s); fail at once by default.
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration, default_value = "0s")]
    pub lock_timeout: Duration,
    /// After the command, print the AWS calls made per service and operation,
    /// and the time spent waiting on AWS vs in gwctl (also with -v).
    #[arg(long, global = true)]
    pub stats: bool,
    /// Plain progress lines even on a terminal (as in cron, CI and pipes).
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// API Gateway control-plane requests per second gwctl sends at most
    /// (the account quota; 0 turns pacing off). Raise it for an account with
    /// a raised limit.
    #[arg(long, global = true, default_value_t = 10.0, value_name = "RATE")]
    pub apigateway_rate: f64,
    /// How many API Gateway requests may go at once before the rate applies.
    #[arg(long, global = true, default_value_t = 40.0, value_name = "N")]
    pub apigateway_burst: f64,
    /// Client-side pacing: `adaptive` keeps to AWS's documented quotas and
    /// slows down when AWS throttles anyway; `fixed` keeps to the quotas
    /// only; `off` leaves it all to the SDK's retries.
    #[arg(long, global = true, value_enum, default_value_t = Pacing::Adaptive)]
    pub pacing: Pacing,
    /// How many AWS operations apply and destroy run at once.
    #[arg(long, global = true, default_value_t = 10, value_name = "N")]
    pub parallelism: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Pacing {
    Adaptive,
    Fixed,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PolicyRole {
    Apply,
    Drift,
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Every resource in the state: address, kind, id.
    List,
    /// One resource: id, dependencies and every attribute.
    Show { address: String },
    /// Print the state (from S3 or the local file) as JSON.
    Pull,
    /// Move the local state file to the spec's [state] backend; refused when
    /// a state is there already. The local file is kept as <file>.migrated.
    Migrate,
    /// Forget a resource without deleting it from AWS.
    Rm {
        address: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
    },
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (write e.g. 30s or 2m)"))
}

/// What `gwctl validate` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ValidateFormat {
    Text,
    Json,
    Sarif,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the spec without calling AWS, and list its security findings.
    Validate {
        /// Exit 1 on any security finding not acknowledged in `[lint] allow`.
        #[arg(long)]
        strict: bool,
        /// How to print the result: text, json (as --json), or sarif (SARIF
        /// 2.1.0, for GitHub code scanning and other SARIF readers).
        #[arg(long, value_enum, default_value = "text")]
        format: ValidateFormat,
    },
    /// Show what apply would change.
    Plan {
        /// Exit 2 when there are changes, 0 when there are none.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Save the plan, for `gwctl apply FILE` to apply exactly.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Make AWS match the spec (or apply a saved plan exactly).
    Apply {
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
        /// Change nothing in AWS: accept what AWS has into the state (and
        /// adopt declared resources found there), after asking.
        #[arg(long)]
        refresh_only: bool,
        /// A plan saved with `gwctl plan --out`: applied without asking, as
        /// it was reviewed; refused if the state or the spec changed since.
        planfile: Option<PathBuf>,
    },
    /// Delete everything the state records.
    Destroy {
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
    },
    /// Read-only check, for cron: does AWS still match what was applied?
    /// Exit 0 in sync, 2 drift, 1 could not check.
    Drift,
    /// Prove the live stack does what the spec promises, by using it: public
    /// routes answer, JWT routes refuse missing, forged and expired tokens and
    /// pass a valid one, the backend is unreachable around the gateway, the
    /// requests are in the access log, the instance is online in SSM with no
    /// key pair, and the throttle is the spec's. Exit 0 only if all hold.
    Verify {
        /// The API's invoke URL to use instead of the one AWS reports.
        #[arg(long, value_name = "URL")]
        endpoint: Option<String>,
        /// Take a valid token from this environment variable instead of
        /// signing in a throwaway user of the declared pool.
        #[arg(long, value_name = "VAR")]
        token_env: Option<String>,
        /// Also send more than the burst at once to a public route and
        /// expect some answers 429.
        #[arg(long)]
        throttle: bool,
        /// How long access-log lines may take to arrive.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "120s")]
        log_wait: Duration,
    },
    /// Print values of the applied stack (api_endpoint, instance_public_ip, ...).
    Output {
        /// One output's name.
        name: Option<String>,
        /// Print the bare value, without quotes.
        #[arg(long)]
        raw: bool,
    },
    /// Inspect and repair the state.
    State {
        #[command(subcommand)]
        command: StateCommand,
    },
    /// Adopt an existing AWS resource as ADDRESS (declared in the spec); the
    /// next plan shows only real differences.
    Import {
        /// The resource's address, e.g. instance.backend
        address: String,
        /// Its AWS id: instance id, group id, role name, API id, route id…
        id: String,
    },
    /// Print the dependency graph of the spec as DOT (e.g. `| dot -Tsvg`).
    Graph,
    /// Write a commented starter gateway.toml and its user-data script; never
    /// overwrites an existing file.
    Init,
    /// Print the JSON Schema of gateway.toml, for editors.
    Schema,
    /// Print the least-privilege IAM policy for running gwctl on this spec.
    IamPolicy {
        /// `apply`: everything apply and destroy call; `drift`: the read-only
        /// set plan, drift and verify need.
        #[arg(long, value_enum, default_value_t = PolicyRole::Apply)]
        role: PolicyRole,
    },
    /// Print the manual page (roff): `gwctl man > gwctl.1`.
    Man,
    /// Print a shell completion script.
    Completions {
        shell: clap_complete::Shell,
    },
    /// Remove a lock held by a gwctl on another host (a dead holder's lock on
    /// this host is taken over by the next run, with a warning).
    ForceUnlock {
        /// The lock id printed in the "state is locked" message.
        id: String,
    },
}
