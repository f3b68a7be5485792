//! The spec file as written: serde structs that mirror `gateway.toml` key for
//! key. Unknown keys are rejected here; meaning is checked in `validate`.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpec {
    pub project: Spanned<RawProject>,
    #[serde(default)]
    pub tags: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub role: BTreeMap<Spanned<String>, Spanned<RawRole>>,
    #[serde(default)]
    pub security_group: BTreeMap<Spanned<String>, Spanned<RawSecurityGroup>>,
    #[serde(default)]
    pub instance: BTreeMap<Spanned<String>, Spanned<RawInstance>>,
    #[serde(default)]
    pub log_group: BTreeMap<Spanned<String>, Spanned<RawLogGroup>>,
    #[serde(default)]
    pub api: BTreeMap<Spanned<String>, Spanned<RawApi>>,
    #[serde(default)]
    pub drift: Option<RawDrift>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProject {
    pub name: Spanned<String>,
    pub region: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRole {
    #[serde(default)]
    pub managed_policies: Vec<Spanned<String>>,
    #[serde(default)]
    pub inline_policies: BTreeMap<String, Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSecurityGroup {
    pub description: Spanned<String>,
    pub vpc_id: Option<Spanned<String>>,
    #[serde(default)]
    pub ingress: Vec<Spanned<RawRule>>,
    #[serde(default)]
    pub egress: Vec<Spanned<RawRule>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub protocol: Spanned<String>,
    pub port: Option<Spanned<i64>>,
    pub from_port: Option<Spanned<i64>>,
    pub to_port: Option<Spanned<i64>>,
    pub cidr: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInstance {
    pub ami: Spanned<String>,
    pub instance_type: Spanned<String>,
    pub role: Option<Spanned<String>>,
    #[serde(default)]
    pub security_groups: Vec<Spanned<String>>,
    pub user_data: Option<Spanned<String>>,
    pub require_imdsv2: Option<bool>,
    pub encrypt_root_volume: Option<bool>,
    pub root_volume_size: Option<Spanned<i64>>,
    pub subnet_id: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLogGroup {
    pub name: Spanned<String>,
    pub retention_days: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApi {
    pub name: Spanned<String>,
    pub backend: Spanned<String>,
    #[serde(default)]
    pub authorizer: BTreeMap<Spanned<String>, Spanned<RawAuthorizer>>,
    pub stage: Option<Spanned<RawStage>>,
    #[serde(default)]
    pub routes: BTreeMap<Spanned<String>, Spanned<RawRoute>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuthorizer {
    pub issuer: Spanned<String>,
    pub audience: Spanned<Vec<String>>,
    pub identity_source: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStage {
    pub name: Option<Spanned<String>>,
    pub auto_deploy: Option<bool>,
    pub throttle: Spanned<RawThrottle>,
    pub access_log: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawThrottle {
    pub rate: Spanned<f64>,
    pub burst: Spanned<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    pub auth: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDrift {
    #[serde(default)]
    pub ignore: Vec<Spanned<String>>,
}
