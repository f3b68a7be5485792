//! The spec file as written: serde structs that mirror `gateway.toml` key for
//! key. Unknown keys are rejected here; meaning is checked in `validate`. The
//! JSON Schema of `gwctl schema` is derived from these same types.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSpec {
    #[schemars(with = "RawProject")]
    pub project: Spanned<RawProject>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub tags: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, RawRole>")]
    pub role: BTreeMap<Spanned<String>, Spanned<RawRole>>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, RawSecurityGroup>")]
    pub security_group: BTreeMap<Spanned<String>, Spanned<RawSecurityGroup>>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, RawInstance>")]
    pub instance: BTreeMap<Spanned<String>, Spanned<RawInstance>>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, RawLogGroup>")]
    pub log_group: BTreeMap<Spanned<String>, Spanned<RawLogGroup>>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, RawUserPool>")]
    pub user_pool: BTreeMap<Spanned<String>, Spanned<RawUserPool>>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, RawApi>")]
    pub api: BTreeMap<Spanned<String>, Spanned<RawApi>>,
    #[serde(default)]
    pub drift: Option<RawDrift>,
    #[serde(default)]
    pub lint: Option<RawLint>,
    #[serde(default)]
    #[schemars(with = "Option<RawState>")]
    pub state: Option<Spanned<RawState>>,
}

/// `[state]`: where the state lives; default a local file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawState {
    /// "local" (default) or "s3".
    #[schemars(with = "Option<String>")]
    pub backend: Option<Spanned<String>>,
    /// The S3 bucket (versioning on).
    #[schemars(with = "Option<String>")]
    pub bucket: Option<Spanned<String>>,
    /// The object key; default "<project>.json".
    #[schemars(with = "Option<String>")]
    pub key: Option<Spanned<String>>,
    /// The bucket's region; default the project's.
    #[schemars(with = "Option<String>")]
    pub region: Option<Spanned<String>>,
}

/// `[lint]`: security findings acknowledged, each with the reason.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLint {
    #[serde(default)]
    #[schemars(with = "Vec<RawAllow>")]
    pub allow: Vec<Spanned<RawAllow>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAllow {
    /// A finding id, e.g. "GW006".
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    /// Why the finding is accepted; printed with it.
    #[schemars(with = "String")]
    pub reason: Spanned<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProject {
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    #[schemars(with = "String")]
    pub region: Spanned<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRole {
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub managed_policies: Vec<Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub inline_policies: BTreeMap<String, Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSecurityGroup {
    #[schemars(with = "String")]
    pub description: Spanned<String>,
    #[schemars(with = "Option<String>")]
    pub vpc_id: Option<Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "Vec<RawRule>")]
    pub ingress: Vec<Spanned<RawRule>>,
    #[serde(default)]
    #[schemars(with = "Vec<RawRule>")]
    pub egress: Vec<Spanned<RawRule>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    #[schemars(with = "String")]
    pub protocol: Spanned<String>,
    #[schemars(with = "Option<i64>")]
    pub port: Option<Spanned<i64>>,
    #[schemars(with = "Option<i64>")]
    pub from_port: Option<Spanned<i64>>,
    #[schemars(with = "Option<i64>")]
    pub to_port: Option<Spanned<i64>>,
    /// The source (ingress) or destination (egress): an address block...
    #[schemars(with = "Option<String>")]
    pub cidr: Option<Spanned<String>>,
    /// ...or another declared security group.
    #[schemars(with = "Option<String>")]
    pub security_group: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawInstance {
    #[schemars(with = "String")]
    pub ami: Spanned<String>,
    #[schemars(with = "String")]
    pub instance_type: Spanned<String>,
    #[schemars(with = "Option<String>")]
    pub role: Option<Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub security_groups: Vec<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub user_data: Option<Spanned<String>>,
    pub require_imdsv2: Option<bool>,
    pub encrypt_root_volume: Option<bool>,
    #[schemars(with = "Option<i64>")]
    pub root_volume_size: Option<Spanned<i64>>,
    #[schemars(with = "Option<String>")]
    pub subnet_id: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLogGroup {
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    #[schemars(with = "Option<i64>")]
    pub retention_days: Option<Spanned<i64>>,
    /// Whether `destroy` leaves the group (and its logs) in AWS; default true.
    pub retain_on_destroy: Option<bool>,
}

/// `[user_pool.X]`: an Amazon Cognito user pool, and its app clients.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUserPool {
    /// The pool's name; default `<project>-<key>`.
    #[schemars(with = "Option<String>")]
    pub name: Option<Spanned<String>>,
    /// Whether AWS refuses to delete the pool (and its users); default true.
    pub deletion_protection: Option<bool>,
    /// "off" (default), "optional" or "on": multi-factor sign-in with an
    /// authenticator app (TOTP).
    #[schemars(with = "Option<String>")]
    pub mfa: Option<Spanned<String>>,
    /// Minimum password length, 8 to 99; default 12. Passwords always need
    /// lower and upper case letters, digits and symbols.
    #[schemars(with = "Option<i64>")]
    pub password_min_length: Option<Spanned<i64>>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, RawUserPoolClient>")]
    pub client: BTreeMap<Spanned<String>, Spanned<RawUserPoolClient>>,
}

/// `[user_pool.X.client.Y]`: an app client without a secret.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUserPoolClient {
    /// Sign-in flows the client allows; default ["USER_SRP_AUTH", "REFRESH_TOKEN_AUTH"].
    #[schemars(with = "Option<Vec<String>>")]
    pub auth_flows: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawApi {
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    #[schemars(with = "String")]
    pub backend: Spanned<String>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, RawAuthorizer>")]
    pub authorizer: BTreeMap<Spanned<String>, Spanned<RawAuthorizer>>,
    #[schemars(with = "Option<RawStage>")]
    pub stage: Option<Spanned<RawStage>>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, RawRoute>")]
    pub routes: BTreeMap<Spanned<String>, Spanned<RawRoute>>,
    /// The backend's port; default 80.
    #[schemars(with = "Option<i64>")]
    pub port: Option<Spanned<i64>>,
    /// A private integration: a VPC link into the backend's VPC and Cloud Map.
    #[schemars(with = "Option<RawVpcLink>")]
    pub vpc_link: Option<Spanned<RawVpcLink>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawVpcLink {
    /// Declared security groups for the link's network interfaces.
    #[schemars(with = "Vec<String>")]
    pub security_groups: Vec<Spanned<String>>,
    /// Subnets for the link; default: the backend's VPC's default subnets.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub subnets: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAuthorizer {
    /// An external issuer's URL (with `audience`), instead of `user_pool`.
    #[schemars(with = "Option<String>")]
    pub issuer: Option<Spanned<String>>,
    #[schemars(with = "Option<Vec<String>>")]
    pub audience: Option<Spanned<Vec<String>>>,
    /// A declared user pool: the issuer is derived from it.
    #[schemars(with = "Option<String>")]
    pub user_pool: Option<Spanned<String>>,
    /// That pool's declared clients: the audience is derived from them.
    #[schemars(with = "Option<Vec<String>>")]
    pub clients: Option<Spanned<Vec<String>>>,
    #[schemars(with = "Option<String>")]
    pub identity_source: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStage {
    #[schemars(with = "Option<String>")]
    pub name: Option<Spanned<String>>,
    pub auto_deploy: Option<bool>,
    #[schemars(with = "RawThrottle")]
    pub throttle: Spanned<RawThrottle>,
    #[schemars(with = "Option<String>")]
    pub access_log: Option<Spanned<String>>,
    /// Per-route CloudWatch metrics; default false, as in API Gateway.
    pub detailed_metrics: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawThrottle {
    #[schemars(with = "f64")]
    pub rate: Spanned<f64>,
    #[schemars(with = "i64")]
    pub burst: Spanned<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    #[schemars(with = "String")]
    pub auth: Spanned<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDrift {
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub ignore: Vec<Spanned<String>>,
}
