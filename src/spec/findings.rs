//! Security findings (docs/design.md §8): what a valid spec builds that
//! weakens the seed's promise (every business request JWT-checked,
//! throttled and logged) or the host behind it. Each has a stable id, a
//! severity, the spec position and the fix; `[lint] allow` acknowledges one
//! with a reason, and it is still printed.

use std::fmt;

use serde::Serialize;

use super::{AmiSource, Rule, Spec};

/// Every finding gwctl reports, with what it is about.
pub const IDS: &[(&str, &str)] = &[
    ("GW001", "a JWT-protected API's backend port open to the internet"),
    ("GW002", "a port open to the internet"),
    ("GW003", "IMDSv1 allowed"),
    ("GW004", "an unencrypted root volume"),
    ("GW005", "a stage without an access log"),
    ("GW006", "a public route beside JWT-protected ones"),
    ("GW007", "a placeholder JWT issuer or audience"),
    ("GW008", "a role allowed every action"),
    ("GW009", "an operating system past its end of support"),
    ("GW010", "an access-log group outside /aws/vendedlogs/"),
    ("GW011", "a private integration's backend with a public address"),
    ("GW012", "access logs kept less than a year"),
    ("GW013", "a user pool without MFA"),
];

/// Managed policies that let the instance do (nearly) anything, or make
/// itself able to.
const ALL_POWERFUL: &[&str] = &["AdministratorAccess", "PowerUserAccess", "IAMFullAccess"];
/// How long access logs are kept at the least (PCI DSS 10.5.1 keeps audit
/// logs a year; checkov's CKV_AWS_338 asks the same of log groups).
const LOG_RETENTION_DAYS: i32 = 365;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    High,
    Medium,
    Low,
    Info,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub id: &'static str,
    pub severity: Severity,
    /// The resource it is about.
    pub address: String,
    pub message: String,
    pub fix: String,
    pub line: usize,
    pub column: usize,
    /// The reason given in `[lint] allow`, when acknowledged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<String>,
}

/// The Amazon Linux 2023 parameter that replaces an end-of-life AMI source.
pub const AL2023: &str = "ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";

const WORLD: &[&str] = &["0.0.0.0/0", "::/0"];
/// Ports that must never face the internet: SSH and RDP.
const ADMIN_PORTS: &[i32] = &[22, 3389];
/// Last path segments of routes that are public by nature (load balancer
/// and uptime probes).
const PROBES: &[&str] = &["health", "healthz", "ping", "status", "ready", "readyz", "live", "livez"];

fn covers(rule: &Rule, port: i32) -> bool {
    match rule.protocol.as_str() {
        "-1" => true,
        "tcp" => rule.from_port.unwrap_or(0) <= port && port <= rule.to_port.unwrap_or(65535),
        _ => false,
    }
}

fn all_ports(rule: &Rule) -> bool {
    rule.protocol == "-1" || (rule.protocol == "tcp" && rule.from_port.unwrap_or(0) <= 0 && rule.to_port.unwrap_or(65535) >= 65535)
}

fn ports(rule: &Rule) -> String {
    match (rule.protocol.as_str(), rule.from_port, rule.to_port) {
        ("-1", _, _) => "every port".to_string(),
        (p, Some(a), Some(b)) if a == b => format!("{p} port {a}"),
        (p, Some(a), Some(b)) => format!("{p} ports {a}-{b}"),
        (p, _, _) => format!("{p}"),
    }
}

/// The findings of a valid spec, most severe first, acknowledged ones marked.
pub fn findings(spec: &Spec) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut add = |id: &'static str, severity: Severity, address: String, at: &str, message: String, fix: String| {
        let (line, column) = spec.position(at);
        let acknowledged = spec.lint_allow.get(id).cloned();
        out.push(Finding { id, severity, address, message, fix, line, column, acknowledged });
    };

    // The backends of APIs that check JWTs on some route: a world-open
    // backend port lets a request skip the authorizer, throttle and log.
    let mut guarded_groups: Vec<(&String, &String, &String, i32)> = Vec::new();
    for (api_name, api) in &spec.apis {
        if !api.routes.values().any(|r| r.authorizer.is_some()) {
            continue;
        }
        for group in spec.instances.get(&api.backend).map(|i| i.security_groups.as_slice()).unwrap_or_default() {
            guarded_groups.push((group, api_name, &api.backend, i32::from(api.port)));
        }
    }
    for (name, sg) in &spec.security_groups {
        for (i, rule) in sg.ingress.iter().enumerate() {
            if !WORLD.contains(&rule.cidr.as_str()) {
                continue;
            }
            let address = format!("security_group.{name}");
            let at = format!("security_group.{name}.ingress[{i}]");
            let guarded = guarded_groups.iter().find(|(g, _, _, port)| *g == name && covers(rule, *port));
            if let Some((_, api, backend, port)) = guarded {
                add(
                    "GW001",
                    Severity::High,
                    address.clone(),
                    &at,
                    format!(
                        "{address} lets {} reach port {port} of instance.{backend}, the backend of api.{api}: a request sent \
                         straight to the instance skips the JWT authorizer, the throttle and the access log",
                        rule.cidr
                    ),
                    format!(
                        "make the integration private: vpc_link = {{ security_groups = [\"link\"] }} in [api.{api}], and allow port \
                         {port} only from that group (security_group = \"link\") instead of {}",
                        rule.cidr
                    ),
                );
            }
            let admin = ADMIN_PORTS.iter().find(|p| covers(rule, **p));
            if all_ports(rule) || admin.is_some() {
                let what = match admin {
                    Some(p) if !all_ports(rule) => format!("port {p} ({})", if *p == 22 { "SSH" } else { "RDP" }),
                    _ => ports(rule),
                };
                add(
                    "GW002",
                    Severity::High,
                    address,
                    &at,
                    format!("{} is open to {} on security_group.{name}", what, rule.cidr),
                    "reach instances with SSM Session Manager (the seed's role allows it) and open no administration port".into(),
                );
            } else if guarded.is_none() {
                add(
                    "GW002",
                    Severity::Medium,
                    address,
                    &at,
                    format!("{} is open to {} on security_group.{name}", ports(rule), rule.cidr),
                    "narrow the rule's cidr to the addresses that must connect".into(),
                );
            }
        }
    }

    for (name, inst) in &spec.instances {
        let address = format!("instance.{name}");
        if !inst.require_imdsv2 {
            add(
                "GW003",
                Severity::Medium,
                address.clone(),
                &address,
                format!("{address} allows IMDSv1: a request forgery on the host can read its role's credentials"),
                "remove `require_imdsv2 = false` (IMDSv2 is required by default)".into(),
            );
        }
        if !inst.encrypt_root_volume {
            add(
                "GW004",
                Severity::Medium,
                address.clone(),
                &address,
                format!("{address} has an unencrypted root volume"),
                "remove `encrypt_root_volume = false` (encrypted by default, with the account's EBS key)".into(),
            );
        }
        if let Some(os) = end_of_life(&inst.ami) {
            add(
                "GW009",
                Severity::Medium,
                address.clone(),
                &format!("{address}.ami"),
                format!("{address} runs {os}, past its end of support: no more security updates"),
                format!("use ami = \"{AL2023}\" (Amazon Linux 2023; the example user data works on both)"),
            );
        }
    }

    // A private integration promises a backend the internet cannot reach;
    // an instance in a default subnet gets a public address all the same,
    // and only its security group stands between it and the world.
    for (api_name, api) in spec.apis.iter().filter(|(_, a)| a.vpc_link.is_some()) {
        let Some(inst) = spec.instances.get(&api.backend) else { continue };
        if inst.subnet_id.is_none() {
            let address = format!("instance.{}", api.backend);
            add(
                "GW011",
                Severity::High,
                address.clone(),
                &address,
                format!(
                    "{address}, the backend of api.{api_name}'s private integration, is in a default subnet of the default VPC, \
                     which gives it a public IPv4 address: only its security group keeps the internet away"
                ),
                "set subnet_id to a private subnet (one that maps no public addresses) of the VPC, with vpc_link.subnets of that VPC".into(),
            );
        }
    }

    for (name, lg) in &spec.log_groups {
        let used = spec.apis.values().any(|a| a.stage.as_ref().and_then(|s| s.access_log.as_ref()) == Some(name));
        let days = lg.retention_days.unwrap_or(i32::MAX);
        if used && (lg.retention_days.is_none() || days < LOG_RETENTION_DAYS) {
            let address = format!("log_group.{name}");
            let (message, fix) = match lg.retention_days {
                None => (format!("{address} keeps access logs forever: their cost grows without end"), format!("set retention_days = {LOG_RETENTION_DAYS} (or more)")),
                Some(d) => (
                    format!("{address} keeps access logs {d} days: an incident found later than that has no record of who called what"),
                    format!("set retention_days = {LOG_RETENTION_DAYS} (or more)"),
                ),
            };
            add("GW012", Severity::Low, address.clone(), &format!("{address}.retention_days"), message, fix);
        }
    }

    for (name, pool) in &spec.user_pools {
        if pool.mfa == "OFF" {
            let address = format!("user_pool.{name}");
            add(
                "GW013",
                Severity::Medium,
                address.clone(),
                &format!("{address}.mfa"),
                format!("{address} has MFA off: a stolen password is enough to get a token for the API"),
                "set mfa = \"optional\" (users may add a second factor) or \"on\"".into(),
            );
        }
    }

    for (name, role) in &spec.roles {
        let address = format!("role.{name}");
        for (arn, policy) in role.managed_policies.iter().filter_map(|a| Some((a, ALL_POWERFUL.iter().find(|p| a.ends_with(&format!(":policy/{p}")))?))) {
            let what = match *policy {
                "IAMFullAccess" => "can give itself any permission, and so do anything in the account",
                "PowerUserAccess" => "can do anything in the account but manage IAM",
                _ => "can do anything in the account",
            };
            add(
                "GW008",
                Severity::High,
                address.clone(),
                &format!("{address}.managed_policies.{arn}"),
                format!("{address} has {policy}: whoever runs code on the instance {what}"),
                "attach only the policies the backend needs (AmazonSSMManagedInstanceCore for SSM)".into(),
            );
        }
        for (policy, doc) in &role.inline_policies {
            if allows_everything(doc) {
                add(
                    "GW008",
                    Severity::High,
                    address.clone(),
                    &format!("{address}.inline_policies.{policy}"),
                    format!("inline policy `{policy}` of {address} allows the action \"*\""),
                    "list the actions the backend needs, on the resources it needs them on".into(),
                );
            }
        }
    }

    for (api_name, api) in &spec.apis {
        let address = format!("api.{api_name}");
        for (auth_name, auth) in &api.authorizers {
            let at = format!("{address}.authorizer.{auth_name}");
            if auth.issuer.contains("EXAMPLE") || auth.issuer.to_ascii_lowercase().contains("example") {
                add(
                    "GW007",
                    Severity::High,
                    format!("authorizer.{api_name}.{auth_name}"),
                    &format!("{at}.issuer"),
                    format!("the issuer of authorizer.{api_name}.{auth_name} is a placeholder ({}): no real token is accepted", auth.issuer),
                    "set issuer to https://cognito-idp.<region>.amazonaws.com/<user pool id> of the real user pool".into(),
                );
            }
            if let Some(aud) = auth.audience.iter().find(|a| a.to_ascii_lowercase().contains("example")) {
                add(
                    "GW007",
                    Severity::High,
                    format!("authorizer.{api_name}.{auth_name}"),
                    &format!("{at}.audience"),
                    format!("the audience of authorizer.{api_name}.{auth_name} is a placeholder ({aud}): no real token is accepted"),
                    "set audience to the id of the user pool's app client".into(),
                );
            }
        }
        if let Some(stage) = &api.stage {
            match &stage.access_log {
                None => add(
                    "GW005",
                    Severity::Medium,
                    format!("stage.{api_name}"),
                    &format!("{address}.stage"),
                    format!("stage.{api_name} keeps no access log: requests leave no trace of who called what"),
                    "declare a [log_group.NAME] and set access_log = \"NAME\" in the stage".into(),
                ),
                Some(log) => {
                    let group = spec.log_groups.get(log).map(|g| g.name.as_str()).unwrap_or_default();
                    if !group.starts_with("/aws/vendedlogs/") {
                        add(
                            "GW010",
                            Severity::Low,
                            format!("log_group.{log}"),
                            &format!("log_group.{log}.name"),
                            format!(
                                "access logs go to {group}, outside /aws/vendedlogs/: each such group adds to the account's \
                                 CloudWatch Logs resource policy, whose size limit a busy account reaches, and then delivery fails"
                            ),
                            format!("name the group under /aws/vendedlogs/, e.g. \"/aws/vendedlogs/apigateway/{}\"", spec.project),
                        );
                    }
                }
            }
        }
        if !api.authorizers.is_empty() {
            for (key, route) in &api.routes {
                if route.authorizer.is_none() && !is_probe(key) {
                    add(
                        "GW006",
                        Severity::Info,
                        format!("route.{api_name}[\"{key}\"]"),
                        &format!("{address}.routes.{key}"),
                        format!("route `{key}` of {address} is public while the API checks JWTs on others"),
                        format!("set auth to an authorizer of {address}, or acknowledge it if it is meant to be public"),
                    );
                }
            }
        }
    }
    out.sort_by(|a, b| (a.acknowledged.is_some(), a.severity, a.line, a.id).cmp(&(b.acknowledged.is_some(), b.severity, b.line, b.id)));
    out
}

/// The operating system behind an AMI source that is past its end of
/// support, recognised from the SSM parameter path.
fn end_of_life(ami: &AmiSource) -> Option<&'static str> {
    let AmiSource::Ssm(path) = ami else { return None };
    let name = path.rsplit('/').next().unwrap_or_default();
    if name.starts_with("amzn2-ami") {
        Some("Amazon Linux 2 (end of support 2026-06-30)")
    } else if name.starts_with("amzn-ami") {
        Some("the Amazon Linux AMI (end of support 2023-12-31)")
    } else {
        None
    }
}

fn is_probe(route_key: &str) -> bool {
    let Some((method, path)) = route_key.split_once(' ') else { return false };
    let last = path.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
    matches!(method, "GET" | "HEAD") && PROBES.contains(&last)
}

fn allows_everything(doc: &serde_json::Value) -> bool {
    let statements = match doc.get("Statement") {
        Some(serde_json::Value::Array(list)) => list.iter().collect::<Vec<_>>(),
        Some(one) => vec![one],
        None => return false,
    };
    statements.iter().any(|st| {
        let allow = st.get("Effect").and_then(|e| e.as_str()) == Some("Allow");
        let star = |v: &serde_json::Value| matches!(v.as_str(), Some("*" | "*:*"));
        let actions = match st.get("Action") {
            Some(serde_json::Value::Array(list)) => list.iter().any(star),
            Some(one) => star(one),
            None => false,
        };
        allow && actions
    })
}

/// GitHub's `security-severity` score of each severity (its bands: high
/// 7.0–8.9, medium 4.0–6.9, low 0.1–3.9).
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::High => "8.0",
        Severity::Medium => "5.0",
        Severity::Low => "2.0",
        Severity::Info => "0.0",
    }
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// The findings (or, for an invalid spec, its problems) as a SARIF 2.1.0
/// log: one rule per finding id, one result per finding at the spec's line
/// and column, an acknowledged one with its reason as an in-source
/// suppression.
pub fn sarif(findings: &[Finding], problems: &[super::Problem], file: &std::path::Path) -> serde_json::Value {
    use serde_json::json;
    let uri = file.to_string_lossy().replace('\\', "/");
    let uri = uri.strip_prefix("./").unwrap_or(&uri).to_string();
    let mut rules: Vec<serde_json::Value> = IDS
        .iter()
        .map(|(id, what)| {
            let worst = findings.iter().filter(|f| f.id == *id).map(|f| f.severity).min().unwrap_or(Severity::Medium);
            json!({
                "id": id,
                "shortDescription": {"text": what},
                "defaultConfiguration": {"level": sarif_level(worst)},
                "properties": {"tags": ["security"], "security-severity": security_severity(worst)},
            })
        })
        .collect();
    rules.push(json!({"id": "GW000", "shortDescription": {"text": "an invalid spec"}, "defaultConfiguration": {"level": "error"}}));
    let location = |line: usize, column: usize| json!([{"physicalLocation": {"artifactLocation": {"uri": uri}, "region": {"startLine": line.max(1), "startColumn": column.max(1)}}}]);
    let mut results: Vec<serde_json::Value> = findings
        .iter()
        .map(|f| {
            let mut r = json!({
                "ruleId": f.id,
                "ruleIndex": IDS.iter().position(|(id, _)| *id == f.id).unwrap_or(0),
                "level": sarif_level(f.severity),
                "message": {"text": format!("{} Fix: {}", f.message, f.fix)},
                "locations": location(f.line, f.column),
                "properties": {"address": f.address, "severity": f.severity},
            });
            if let Some(reason) = &f.acknowledged {
                r["suppressions"] = json!([{"kind": "inSource", "justification": reason}]);
            }
            r
        })
        .collect();
    results.extend(problems.iter().map(|p| {
        let text = match &p.hint {
            Some(h) => format!("{} ({h})", p.message),
            None => p.message.clone(),
        };
        json!({"ruleId": "GW000", "ruleIndex": IDS.len(), "level": "error", "message": {"text": text}, "locations": location(p.line, p.column)})
    }));
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "gwctl", "version": env!("CARGO_PKG_VERSION"), "rules": rules}},
            "results": results,
        }],
    })
}

/// Findings as people read them: one paragraph each, then a count.
pub fn render(findings: &[Finding], file: &std::path::Path) -> String {
    let mut out = String::new();
    for f in findings {
        let status = match &f.acknowledged {
            Some(reason) => format!(" (acknowledged: {reason})"),
            None => String::new(),
        };
        out.push_str(&format!("{}:{}:{}: {} {}{status}: {}\n  fix: {}\n", file.display(), f.line, f.column, f.id, f.severity, f.message, f.fix));
    }
    out.push_str(&summary(findings));
    out.push('\n');
    out
}

/// "3 security findings (1 high, 2 medium), 1 acknowledged".
pub fn summary(findings: &[Finding]) -> String {
    let open: Vec<&Finding> = findings.iter().filter(|f| f.acknowledged.is_none()).collect();
    let mut counts = Vec::new();
    for severity in [Severity::High, Severity::Medium, Severity::Low, Severity::Info] {
        let n = open.iter().filter(|f| f.severity == severity).count();
        if n > 0 {
            counts.push(format!("{n} {severity}"));
        }
    }
    let acknowledged = findings.len() - open.len();
    let mut line = match open.len() {
        0 => "no open security findings".to_string(),
        1 => format!("1 security finding ({})", counts.join(", ")),
        n => format!("{n} security findings ({})", counts.join(", ")),
    };
    if acknowledged > 0 {
        line.push_str(&format!(", {acknowledged} acknowledged"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> Spec {
        super::super::parse(std::path::Path::new("gateway.toml"), text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn ids(spec: &Spec) -> Vec<&'static str> {
        let mut ids: Vec<_> = findings(spec).iter().filter(|f| f.acknowledged.is_none()).map(|f| f.id).collect();
        ids.sort();
        ids.dedup();
        ids
    }

    const BASE: &str = r#"
[project]
name = "p"
region = "ap-south-1"

[security_group.backend]
description = "b"
ingress = [{ protocol = "tcp", port = 80, cidr = "10.0.0.0/8" }]

[instance.backend]
ami = "ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
instance_type = "t3.micro"
security_groups = ["backend"]

[log_group.access]
name = "/aws/vendedlogs/apigateway/p"
retention_days = 365

[api.main]
name = "p"
backend = "backend"

[api.main.authorizer.cognito]
issuer = "https://cognito-idp.ap-south-1.amazonaws.com/ap-south-1_abc123"
audience = ["4k2client"]

[api.main.stage]
throttle = { rate = 100, burst = 200 }
access_log = "access"

[api.main.routes]
"GET /health" = { auth = "none" }
"ANY /jobs/{proxy+}" = { auth = "cognito" }
"#;

    #[test]
    fn a_private_stack_has_no_finding() {
        assert_eq!(ids(&spec(BASE)), Vec::<&str>::new());
    }

    #[test]
    fn each_weakness_is_its_finding_at_its_line() {
        let cases = [
            ("cidr = \"10.0.0.0/8\"", "cidr = \"0.0.0.0/0\"", "GW001", 8),
            ("port = 80, cidr = \"10.0.0.0/8\"", "port = 22, cidr = \"0.0.0.0/0\"", "GW002", 8),
            ("security_groups = [\"backend\"]", "security_groups = [\"backend\"]\nrequire_imdsv2 = false", "GW003", 10),
            ("security_groups = [\"backend\"]", "security_groups = [\"backend\"]\nencrypt_root_volume = false", "GW004", 10),
            ("access_log = \"access\"\n", "", "GW005", 27),
            ("\"GET /health\"", "\"GET /export\"", "GW006", 32),
            ("ap-south-1_abc123", "ap-south-1_EXAMPLE", "GW007", 24),
            ("[instance.backend]", "[role.backend]\nmanaged_policies = [\"arn:aws:iam::aws:policy/AdministratorAccess\"]\n\n[instance.backend]", "GW008", 11),
            ("[instance.backend]", "[role.backend]\nmanaged_policies = [\"arn:aws:iam::aws:policy/PowerUserAccess\"]\n\n[instance.backend]", "GW008", 11),
            ("[instance.backend]", "[role.backend]\nmanaged_policies = [\"arn:aws:iam::aws:policy/IAMFullAccess\"]\n\n[instance.backend]", "GW008", 11),
            ("al2023-ami-kernel-default-x86_64", "amzn2-ami-kernel-5.10-hvm-x86_64-gp2", "GW009", 11),
            ("/aws/vendedlogs/apigateway/p", "/aws/apigateway/p", "GW010", 16),
            ("backend = \"backend\"\n", "backend = \"backend\"\nvpc_link = { security_groups = [\"backend\"] }\n", "GW011", 10),
            ("retention_days = 365", "retention_days = 90", "GW012", 17),
            ("retention_days = 365\n", "", "GW012", 15),
            ("[api.main]", "[user_pool.pool]\nmfa = \"off\"\n\n[api.main]", "GW013", 20),
            ("[api.main]", "[user_pool.pool]\n\n[api.main]", "GW013", 19),
        ];
        for (from, to, id, line) in cases {
            assert!(BASE.contains(from), "{from}");
            let s = spec(&BASE.replacen(from, to, 1));
            assert_eq!(ids(&s), vec![id], "{to}");
            let f = findings(&s).into_iter().find(|f| f.id == id).unwrap();
            assert_eq!(f.line, line, "{id}: {f:?}");
            assert!(!f.fix.is_empty());
        }
    }

    #[test]
    fn the_bypass_is_found_on_the_port_the_api_calls() {
        let on_8080 = BASE.replacen("port = 80, cidr = \"10.0.0.0/8\"", "port = 8080, cidr = \"0.0.0.0/0\"", 1).replacen("backend = \"backend\"\n", "backend = \"backend\"\nport = 8080\n", 1);
        assert_eq!(ids(&spec(&on_8080)), vec!["GW001"]);
        let elsewhere = BASE.replacen("port = 80, cidr = \"10.0.0.0/8\"", "port = 80, cidr = \"0.0.0.0/0\"", 1).replacen("backend = \"backend\"\n", "backend = \"backend\"\nport = 8080\n", 1);
        assert_eq!(ids(&spec(&elsewhere)), vec!["GW002"], "port 80 open while the API calls 8080 is still open to the world");
    }

    #[test]
    fn an_acknowledged_finding_is_kept_with_its_reason_and_not_counted() {
        let s = spec(&format!("{}\n[lint]\nallow = [{{ id = \"GW006\", reason = \"exports are public\" }}]\n", BASE.replacen("\"GET /health\"", "\"GET /export\"", 1)));
        let all = findings(&s);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].acknowledged.as_deref(), Some("exports are public"));
        assert_eq!(summary(&all), "no open security findings, 1 acknowledged");
    }

    #[test]
    fn an_unknown_or_unexplained_acknowledgement_is_a_spec_problem() {
        for (allow, message) in [("{ id = \"GW999\", reason = \"x\" }", "`GW999` is not a finding"), ("{ id = \"GW006\", reason = \" \" }", "needs a reason")] {
            let text = format!("{BASE}\n[lint]\nallow = [{allow}]\n");
            let err = super::super::parse(std::path::Path::new("gateway.toml"), &text).unwrap_err().to_string();
            assert!(err.contains(message), "{err}");
        }
    }
}
