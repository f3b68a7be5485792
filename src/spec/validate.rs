//! Raw TOML → [`Spec`]: every rule of docs/design.md §1, each failure a [`Problem`]
//! with file, line and column. All problems are reported at once.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::raw::*;
use super::*;

/// Largest user data EC2 accepts, before base64 encoding.
pub const USER_DATA_MAX: usize = 16 * 1024;

/// Retention periods CloudWatch Logs accepts (PutRetentionPolicy).
const RETENTION_DAYS: &[i64] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

const ROUTE_METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"];

struct Checker<'a> {
    file: &'a Path,
    text: &'a str,
    problems: Vec<Problem>,
    positions: BTreeMap<String, (usize, usize)>,
}

impl<'a> Checker<'a> {
    /// Records where `key` is declared (see [`Spec::positions`]).
    fn mark(&mut self, key: String, span: Range<usize>) {
        let start = span.start.min(self.text.len());
        let before = &self.text[..start];
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let position = (before.matches('\n').count() + 1, self.text[line_start..start].chars().count() + 1);
        self.positions.insert(key, position);
    }

    fn at(&mut self, span: Range<usize>, message: impl Into<String>, hint: Option<String>) {
        let start = span.start.min(self.text.len());
        let before = &self.text[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let column = self.text[line_start..start].chars().count() + 1;
        let line_end = self.text[line_start..]
            .find('\n')
            .map(|i| line_start + i)
            .unwrap_or(self.text.len());
        let end = span.end.clamp(start, line_end);
        let width = self.text[start..end].chars().count();
        let (source_line, caret, width) =
            excerpt(self.text[line_start..line_end].trim_end_matches('\r'), column - 1, width);
        self.problems.push(Problem {
            file: self.file.to_path_buf(),
            line,
            column,
            message: cut_quoted(&message.into()),
            hint: hint.as_deref().map(cut_quoted),
            source_line,
            caret,
            width,
        });
    }

    fn check<T>(&mut self, value: &Spanned<T>, ok: bool, message: impl Into<String>, hint: &str) {
        if !ok {
            let hint = (!hint.is_empty()).then(|| hint.to_string());
            self.at(value.span(), message, hint);
        }
    }
}

/// The most characters of a source line shown under a problem.
const EXCERPT_CHARS: usize = 120;
/// The most characters of a key or value from the spec quoted in a message.
const QUOTE_CHARS: usize = 100;
/// The most characters of a message or hint, whatever it quotes.
const MESSAGE_CHARS: usize = 400;

/// At most [`EXCERPT_CHARS`] characters of `line` around character `at`
/// (0-based), `…` marking each side that was cut; with where `at` is in the
/// excerpt, and how much of a span `width` characters long the excerpt shows.
fn excerpt(line: &str, at: usize, width: usize) -> (String, usize, usize) {
    let len = line.chars().count();
    if len <= EXCERPT_CHARS {
        return (line.to_string(), at, width);
    }
    // From the start of the line while that shows the column well inside
    // the excerpt; else a third of the excerpt before the column.
    let first = if at < EXCERPT_CHARS * 2 / 3 { 0 } else { (at - EXCERPT_CHARS / 3).min(len - EXCERPT_CHARS) };
    let end = first + EXCERPT_CHARS;
    let mut shown = String::with_capacity(EXCERPT_CHARS * 4 + 6);
    if first > 0 {
        shown.push('…');
    }
    shown.extend(line.chars().skip(first).take(EXCERPT_CHARS));
    if end < len {
        shown.push('…');
    }
    let caret = at - first + usize::from(first > 0);
    (shown, caret, width.min(end.saturating_sub(at)))
}

/// `text` with each part quoted in backticks or double quotes cut to at
/// most [`QUOTE_CHARS`] characters (its start and end, `…` between), and
/// the whole to at most [`MESSAGE_CHARS`].
fn cut_quoted(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find(|c| c == '`' || c == '"') {
        let quote = if rest.as_bytes()[open] == b'`' { '`' } else { '"' };
        out.push_str(&rest[..=open]);
        rest = &rest[open + 1..];
        let close = rest.find(quote).unwrap_or(rest.len());
        out.push_str(&cut_middle(&rest[..close], QUOTE_CHARS));
        out.push_str(&rest[close..(close + 1).min(rest.len())]);
        rest = &rest[(close + 1).min(rest.len())..];
    }
    out.push_str(rest);
    if out.chars().count() > MESSAGE_CHARS {
        out = out.chars().take(MESSAGE_CHARS - 1).chain(['…']).collect();
    }
    out
}

/// `text` if it has at most `max` characters, else its start and end with
/// `…` between, `max` characters in all.
fn cut_middle(text: &str, max: usize) -> String {
    let len = text.chars().count();
    if len <= max {
        return text.to_string();
    }
    let head = (max - 1) / 2;
    let tail = max - 1 - head;
    text.chars().take(head).chain(['…']).chain(text.chars().skip(len - tail)).collect()
}

/// Parses and validates spec text read from `file`.
pub fn parse(file: &Path, text: &str) -> Result<Spec, SpecError> {
    let mut c = Checker {
        file,
        text,
        problems: Vec::new(),
        positions: BTreeMap::new(),
    };
    let raw: RawSpec = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(err) => {
            let span = err.span().unwrap_or(0..0);
            let message = match err.message().trim() {
                "" => "incomplete TOML: a value or closing bracket is missing here".to_string(),
                m => m.to_string(),
            };
            let hint = toml_hint(&message);
            c.at(span, message, hint);
            return Err(SpecError::Invalid(c.problems));
        }
    };
    let spec = check(&mut c, raw);
    if c.problems.is_empty() {
        Ok(spec)
    } else {
        Err(SpecError::Invalid(c.problems))
    }
}

fn toml_hint(message: &str) -> Option<String> {
    if message.starts_with("unknown field") {
        Some("remove the key or correct its spelling; the keys this table takes are listed above".into())
    } else if message.starts_with("missing field") {
        Some("add the key; `gwctl init` writes a complete gateway.toml and `gwctl schema` lists every table with its keys".into())
    } else if message.starts_with("invalid type") {
        Some("check the value's type: strings are quoted, lists use [ ], tables use { }".into())
    } else {
        None
    }
}

fn check(c: &mut Checker, raw: RawSpec) -> Spec {
    let project = raw.project.into_inner();
    let name = project.name.get_ref().clone();
    let name_ok = !name.is_empty()
        && name.len() <= 40
        && name.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
        && !name.starts_with('-');
    c.check(
        &project.name,
        name_ok,
        format!("project name `{name}` is not usable in AWS resource names"),
        "use 1 to 40 lowercase letters, digits and dashes, e.g. \"job-work-planner\"",
    );
    let region = project.region.get_ref().clone();
    c.check(
        &project.region,
        is_region(&region),
        format!("`{region}` is not an AWS region"),
        "a region looks like \"ap-south-1\" or \"us-east-1\"",
    );

    let mut tags = BTreeMap::new();
    for (key, value) in raw.tags {
        let reserved = key.starts_with("aws:") || key.starts_with("gwctl:");
        c.check(
            &value,
            !reserved,
            format!("tag key `{key}` is reserved"),
            "keys starting with `aws:` or `gwctl:` are set by AWS and gwctl",
        );
        c.check(
            &value,
            key.len() <= 128 && value.get_ref().len() <= 256,
            format!("tag `{key}` is too long"),
            "tag keys are at most 128 characters and values at most 256",
        );
        tags.insert(key, value.into_inner());
    }

    let role_names: BTreeSet<String> = raw.role.keys().map(|k| k.get_ref().clone()).collect();
    let sg_names: BTreeSet<String> =
        raw.security_group.keys().map(|k| k.get_ref().clone()).collect();
    let instance_names: BTreeSet<String> =
        raw.instance.keys().map(|k| k.get_ref().clone()).collect();
    let log_group_names: BTreeSet<String> =
        raw.log_group.keys().map(|k| k.get_ref().clone()).collect();

    let mut roles = BTreeMap::new();
    for (key, role) in raw.role {
        check_local_name(c, &key, "role", &name);
        c.mark(format!("role.{}", key.get_ref()), key.span());
        let role = role.into_inner();
        let mut managed = Vec::new();
        for arn in &role.managed_policies {
            c.mark(format!("role.{}.managed_policies.{}", key.get_ref(), arn.get_ref()), arn.span());
            c.check(
                arn,
                arn.get_ref().starts_with("arn:aws") && arn.get_ref().contains(":policy/"),
                format!("`{}` is not an IAM policy ARN", arn.get_ref()),
                "managed policies are ARNs such as \"arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore\"",
            );
            managed.push(arn.get_ref().clone());
        }
        managed.sort();
        managed.dedup();
        let mut inline = BTreeMap::new();
        for (policy_name, doc) in role.inline_policies {
            c.mark(format!("role.{}.inline_policies.{policy_name}", key.get_ref()), doc.span());
            match serde_json::from_str::<serde_json::Value>(doc.get_ref()) {
                Ok(value) if value.is_object() => {
                    inline.insert(policy_name, value);
                }
                _ => c.check(
                    &doc,
                    false,
                    format!("inline policy `{policy_name}` is not a JSON policy document"),
                    "the value is a JSON object with \"Version\" and \"Statement\"",
                ),
            }
        }
        roles.insert(
            key.into_inner(),
            RoleSpec {
                managed_policies: managed,
                inline_policies: inline,
            },
        );
    }

    let mut security_groups = BTreeMap::new();
    for (key, sg) in raw.security_group {
        check_local_name(c, &key, "security_group", &name);
        c.mark(format!("security_group.{}", key.get_ref()), key.span());
        for (i, rule) in sg.get_ref().ingress.iter().enumerate() {
            c.mark(format!("security_group.{}.ingress[{i}]", key.get_ref()), rule.span());
        }
        let sg = sg.into_inner();
        let desc = sg.description.get_ref();
        c.check(
            &sg.description,
            !desc.is_empty() && desc.len() <= 255 && desc.is_ascii(),
            "a security group description is 1 to 255 ASCII characters",
            "",
        );
        let ingress = sg.ingress.iter().filter_map(|r| check_rule(c, r)).collect();
        let egress = sg.egress.iter().filter_map(|r| check_rule(c, r)).collect();
        for group in sg.ingress.iter().chain(&sg.egress).filter_map(|r| r.get_ref().security_group.as_ref()) {
            check_ref(c, group, &sg_names, "security_group");
            c.check(group, group.get_ref() != key.get_ref(), "a rule cannot name its own security group", "name another declared group, or use a cidr");
        }
        if let Some(vpc) = &sg.vpc_id {
            c.check(
                vpc,
                vpc.get_ref().starts_with("vpc-"),
                format!("`{}` is not a VPC id", vpc.get_ref()),
                "VPC ids look like \"vpc-0a1b2c3d\"; leave `vpc_id` out for the default VPC",
            );
        }
        security_groups.insert(
            key.into_inner(),
            SecurityGroupSpec {
                description: desc.clone(),
                vpc_id: sg.vpc_id.map(|v| v.into_inner()),
                ingress,
                egress,
            },
        );
    }

    let spec_dir = c.file.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut instances = BTreeMap::new();
    for (key, inst) in raw.instance {
        check_local_name(c, &key, "instance", &name);
        c.mark(format!("instance.{}", key.get_ref()), key.span());
        c.mark(format!("instance.{}.ami", key.get_ref()), inst.get_ref().ami.span());
        let inst = inst.into_inner();
        let ami_text = inst.ami.get_ref().clone();
        let ami = if let Some(path) = ami_text.strip_prefix("ssm:") {
            c.check(
                &inst.ami,
                path.starts_with('/'),
                format!("`{ami_text}` is not an SSM parameter path"),
                "write \"ssm:/aws/service/ami-amazon-linux-latest/amzn2-ami-kernel-5.10-hvm-x86_64-gp2\"",
            );
            AmiSource::Ssm(path.to_string())
        } else {
            let ok = ami_text.starts_with("ami-")
                && ami_text.len() > 4
                && ami_text[4..].chars().all(|ch| ch.is_ascii_hexdigit());
            c.check(
                &inst.ami,
                ok,
                format!("`{ami_text}` is neither an AMI id nor an ssm: parameter"),
                "use an id like \"ami-0abcdef1234567890\" or \"ssm:/aws/service/...\"",
            );
            AmiSource::Id(ami_text)
        };
        let itype = inst.instance_type.get_ref();
        c.check(
            &inst.instance_type,
            itype.split_once('.').is_some_and(|(a, b)| !a.is_empty() && !b.is_empty()),
            format!("`{itype}` is not an instance type"),
            "instance types look like \"t3.micro\"",
        );
        if let Some(role) = &inst.role {
            check_ref(c, role, &role_names, "role");
        }
        for sg in &inst.security_groups {
            check_ref(c, sg, &sg_names, "security_group");
        }
        // An instance and its groups share one VPC. Without a subnet, EC2
        // launches into the default VPC's default subnet, where a group of
        // another VPC is refused ("belong to different networks").
        let vpcs: BTreeSet<Option<&String>> =
            inst.security_groups.iter().filter_map(|g| security_groups.get(g.get_ref())).map(|g: &SecurityGroupSpec| g.vpc_id.as_ref()).collect();
        let at = inst.security_groups.first();
        if let (true, Some(at)) = (vpcs.len() > 1, at) {
            c.check(
                at,
                false,
                "the instance's security groups are in different VPCs",
                "give every group of one instance the same vpc_id (or none, for the default VPC)",
            );
        } else if let (Some(Some(vpc)), None, Some(at)) = (vpcs.first(), &inst.subnet_id, at) {
            c.check(
                at,
                false,
                format!("the instance's security groups are in {vpc}, but without subnet_id it launches into the default VPC"),
                &format!("set subnet_id to a subnet of {vpc}"),
            );
        }
        let user_data = inst.user_data.as_ref().and_then(|ud| {
            let path = spec_dir.join(ud.get_ref());
            match crate::files::read_capped(&path, USER_DATA_MAX as u64) {
                Ok(bytes) => Some(UserData { path, bytes }),
                Err(err) => {
                    let (message, hint) = match crate::files::Refused::of(&err) {
                        Some(crate::files::Refused::TooLarge { size, .. }) => (
                            format!("user data `{}` is {size} bytes; EC2 accepts at most {USER_DATA_MAX}", ud.get_ref()),
                            "move the bulk of the script to S3 or a package and fetch it from a short script".to_string(),
                        ),
                        Some(crate::files::Refused::NotRegular(_)) => (
                            format!("cannot read user data `{}`: {err}", path.display()),
                            format!("user data is a script in a regular file of at most {USER_DATA_MAX} bytes"),
                        ),
                        None => (
                            format!("cannot read user data `{}`: {err}", path.display()),
                            "the path is relative to the spec file's folder".to_string(),
                        ),
                    };
                    c.check(ud, false, message, &hint);
                    None
                }
            }
        });
        if let Some(size) = &inst.root_volume_size {
            c.check(
                size,
                (1..=16384).contains(size.get_ref()),
                "root_volume_size is in GiB, from 1 to 16384",
                "",
            );
        }
        instances.insert(
            key.into_inner(),
            InstanceSpec {
                ami,
                instance_type: itype.clone(),
                role: inst.role.map(Spanned::into_inner),
                security_groups: inst.security_groups.into_iter().map(Spanned::into_inner).collect(),
                user_data,
                require_imdsv2: inst.require_imdsv2.unwrap_or(true),
                encrypt_root_volume: inst.encrypt_root_volume.unwrap_or(true),
                root_volume_size: inst.root_volume_size.map(|s| *s.get_ref() as i32),
                subnet_id: inst.subnet_id.map(Spanned::into_inner),
            },
        );
    }

    let mut log_groups = BTreeMap::new();
    let mut seen_log_names: BTreeMap<String, String> = BTreeMap::new();
    for (key, lg) in raw.log_group {
        check_local_name(c, &key, "log_group", &name);
        c.mark(format!("log_group.{}", key.get_ref()), key.span());
        c.mark(format!("log_group.{}.name", key.get_ref()), lg.get_ref().name.span());
        let lg = lg.into_inner();
        let lg_name = lg.name.get_ref().clone();
        let ok = !lg_name.is_empty()
            && lg_name.len() <= 512
            && lg_name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "._-/#".contains(ch));
        c.check(
            &lg.name,
            ok,
            format!("`{lg_name}` is not a valid log group name"),
            "1 to 512 characters: letters, digits and . _ - / #",
        );
        if let Some(other) = seen_log_names.insert(lg_name.clone(), key.get_ref().clone()) {
            c.check(
                &lg.name,
                false,
                format!("log group name `{lg_name}` is already used by [log_group.{other}]"),
                "two log groups of one project cannot share a name in AWS",
            );
        }
        if let Some(days) = &lg.retention_days {
            c.mark(format!("log_group.{}.retention_days", key.get_ref()), days.span());
            c.check(
                days,
                RETENTION_DAYS.contains(days.get_ref()),
                format!("{} is not a retention period CloudWatch Logs accepts", days.get_ref()),
                &format!("use one of {RETENTION_DAYS:?}"),
            );
        }
        log_groups.insert(
            key.into_inner(),
            LogGroupSpec {
                name: lg_name,
                retention_days: lg.retention_days.map(|d| *d.get_ref() as i32),
                retain_on_destroy: lg.retain_on_destroy.unwrap_or(true),
            },
        );
    }

    let pool_names: BTreeSet<String> = raw.user_pool.keys().map(|k| k.get_ref().clone()).collect();
    let mut user_pools = BTreeMap::new();
    let mut seen_pool_names: BTreeMap<String, String> = BTreeMap::new();
    for (key, pool) in raw.user_pool {
        check_local_name(c, &key, "user_pool", &name);
        c.mark(format!("user_pool.{}", key.get_ref()), key.span());
        let pool = pool.into_inner();
        let pool_name = pool.name.as_ref().map(|n| n.get_ref().clone()).unwrap_or_else(|| format!("{name}-{}", key.get_ref()));
        if let Some(n) = &pool.name {
            c.mark(format!("user_pool.{}.name", key.get_ref()), n.span());
            let ok = !pool_name.is_empty() && pool_name.len() <= 128 && pool_name.chars().all(|ch| ch.is_alphanumeric() || " +=,.@-_".contains(ch));
            c.check(n, ok, format!("`{pool_name}` is not a user pool name"), "1 to 128 letters, digits, spaces and + = , . @ - _");
            if let Some(other) = seen_pool_names.insert(pool_name.clone(), key.get_ref().clone()) {
                c.check(n, false, format!("user pool name `{pool_name}` is already used by [user_pool.{other}]"), "give each pool its own name");
            }
        }
        if let Some(m) = &pool.mfa {
            c.mark(format!("user_pool.{}.mfa", key.get_ref()), m.span());
        }
        let mfa = match &pool.mfa {
            Some(m) => {
                let v = m.get_ref().to_ascii_lowercase();
                c.check(m, ["off", "optional", "on"].contains(&v.as_str()), format!("`{}` is not an MFA setting", m.get_ref()), "use \"off\", \"optional\" or \"on\"");
                v.to_ascii_uppercase()
            }
            None => "OFF".into(),
        };
        let min_length = match &pool.password_min_length {
            Some(l) => {
                c.check(l, (8..=99).contains(l.get_ref()), format!("password_min_length {} is out of range", l.get_ref()), "Cognito accepts 8 to 99; gwctl's default is 12");
                (*l.get_ref()).clamp(8, 99) as i32
            }
            None => 12,
        };
        let mut clients = BTreeMap::new();
        for (client_key, client) in pool.client {
            check_local_name(c, &client_key, "client", &name);
            c.mark(format!("user_pool.{}.client.{}", key.get_ref(), client_key.get_ref()), client_key.span());
            let flows = match client.into_inner().auth_flows {
                Some(flows) => {
                    // Cognito refuses an app client without it ("REFRESH_TOKEN_AUTH
                    // should always be allowed.", aws-cdk#7625).
                    let refresh = flows.iter().any(|f| f.get_ref().trim_start_matches("ALLOW_") == "REFRESH_TOKEN_AUTH");
                    match flows.first() {
                        Some(first) => c.check(first, refresh, "auth_flows lacks REFRESH_TOKEN_AUTH, which Cognito requires of every app client", "add \"REFRESH_TOKEN_AUTH\" to auth_flows"),
                        None => c.check(&client_key, refresh, "auth_flows is empty, and Cognito requires REFRESH_TOKEN_AUTH of every app client", "set auth_flows = [\"USER_SRP_AUTH\", \"REFRESH_TOKEN_AUTH\"], or leave it out for that default"),
                    }
                    let mut out = Vec::new();
                    for f in flows {
                        let flow = f.get_ref().trim_start_matches("ALLOW_").to_string();
                        c.check(
                            &f,
                            AUTH_FLOWS.contains(&flow.as_str()),
                            format!("`{}` is not an app client auth flow", f.get_ref()),
                            &format!("use some of {AUTH_FLOWS:?}"),
                        );
                        out.push(format!("ALLOW_{flow}"));
                    }
                    out
                }
                None => vec!["ALLOW_USER_SRP_AUTH".into(), "ALLOW_REFRESH_TOKEN_AUTH".into()],
            };
            let mut flows = flows;
            flows.sort();
            flows.dedup();
            clients.insert(client_key.into_inner(), UserPoolClientSpec { auth_flows: flows });
        }
        user_pools.insert(
            key.into_inner(),
            UserPoolSpec { name: pool_name, deletion_protection: pool.deletion_protection.unwrap_or(true), mfa, password_min_length: min_length, clients },
        );
    }

    let mut apis = BTreeMap::new();
    let mut seen_api_names: BTreeMap<String, String> = BTreeMap::new();
    for (key, api) in raw.api {
        check_local_name(c, &key, "api", &name);
        c.mark(format!("api.{}", key.get_ref()), key.span());
        if let Some(stage) = &api.get_ref().stage {
            c.mark(format!("api.{}.stage", key.get_ref()), stage.span());
        }
        for route_key in api.get_ref().routes.keys() {
            c.mark(format!("api.{}.routes.{}", key.get_ref(), route_key.get_ref()), route_key.span());
        }
        for (auth_name, auth) in &api.get_ref().authorizer {
            let at = format!("api.{}.authorizer.{}", key.get_ref(), auth_name.get_ref());
            c.mark(at.clone(), auth_name.span());
            if let Some(issuer) = &auth.get_ref().issuer {
                c.mark(format!("{at}.issuer"), issuer.span());
            }
            if let Some(audience) = &auth.get_ref().audience {
                c.mark(format!("{at}.audience"), audience.span());
            }
        }
        let api = api.into_inner();
        if let Some(other) = seen_api_names.insert(api.name.get_ref().clone(), key.get_ref().clone()) {
            c.check(
                &api.name,
                false,
                format!("API name `{}` is already used by [api.{other}]", api.name.get_ref()),
                "give each API its own name",
            );
        }
        check_ref(c, &api.backend, &instance_names, "instance");
        let mut authorizers = BTreeMap::new();
        for (auth_name, auth) in &api.authorizer {
            check_local_name(c, auth_name, "authorizer", &name);
            let at = format!("[api.{}.authorizer.{}]", key.get_ref(), auth_name.get_ref());
            let a = auth.get_ref();
            let (issuer, audience, user_pool, clients) = match (&a.issuer, &a.audience, &a.user_pool, &a.clients) {
                (None, None, Some(pool), Some(clients)) => {
                    check_ref(c, pool, &pool_names, "user_pool");
                    let declared = user_pools.get(pool.get_ref()).map(|p: &UserPoolSpec| p.clients.keys().cloned().collect::<BTreeSet<String>>()).unwrap_or_default();
                    c.check(clients, !clients.get_ref().is_empty(), "a JWT authorizer needs at least one client", &format!("name clients of [user_pool.{}], e.g. clients = [\"web\"]", pool.get_ref()));
                    for client in clients.get_ref() {
                        if user_pools.contains_key(pool.get_ref()) && !declared.contains(client) {
                            let list: Vec<&String> = declared.iter().collect();
                            c.check(clients, false, format!("`{client}` is not a client of [user_pool.{}]", pool.get_ref()), &format!("declare it as [user_pool.{}.client.{client}]; declared clients: {list:?}", pool.get_ref()));
                        }
                    }
                    let mut clients = clients.get_ref().clone();
                    clients.sort();
                    clients.dedup();
                    (String::new(), Vec::new(), Some(pool.get_ref().clone()), clients)
                }
                (Some(issuer), Some(audience), None, None) => {
                    c.check(issuer, issuer.get_ref().starts_with("https://"), "a JWT issuer is an https:// URL", "for Cognito: https://cognito-idp.<region>.amazonaws.com/<user pool id>, or name a declared pool with user_pool = \"…\"");
                    c.check(audience, !audience.get_ref().is_empty(), "a JWT authorizer needs at least one audience", "for Cognito, the app client id");
                    let mut audience = audience.get_ref().clone();
                    audience.sort();
                    audience.dedup();
                    (issuer.get_ref().clone(), audience, None, Vec::new())
                }
                _ => {
                    c.check(
                        auth,
                        false,
                        format!("{at} needs either user_pool and clients, or issuer and audience"),
                        "user_pool = \"main\" and clients = [\"web\"] for a declared [user_pool.main]; issuer = \"https://…\" and audience = [\"…\"] for an external identity provider",
                    );
                    (String::new(), Vec::new(), None, Vec::new())
                }
            };
            let identity = a
                .identity_source
                .as_ref()
                .map(|s| s.get_ref().clone())
                .unwrap_or_else(|| "$request.header.Authorization".into());
            if let Some(src) = &a.identity_source {
                c.check(
                    src,
                    src.get_ref().starts_with("$request.") || src.get_ref().starts_with("$context."),
                    format!("`{}` is not an identity source", src.get_ref()),
                    "identity sources look like \"$request.header.Authorization\"",
                );
            }
            authorizers.insert(
                auth_name.get_ref().clone(),
                AuthorizerSpec { issuer, audience, identity_source: identity, user_pool, clients },
            );
        }
        let stage = api.stage.map(|stage| {
            let stage = stage.into_inner();
            let stage_name = stage.name.as_ref().map(|n| n.get_ref().clone()).unwrap_or_else(|| "$default".into());
            if let Some(n) = &stage.name {
                let ok = stage_name == "$default"
                    || (!stage_name.is_empty()
                        && stage_name.len() <= 128
                        && stage_name.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-'));
                c.check(n, ok, format!("`{stage_name}` is not a stage name"), "use \"$default\" or letters, digits, - and _");
            }
            let throttle = stage.throttle.get_ref();
            let rate = *throttle.rate.get_ref();
            let burst = *throttle.burst.get_ref();
            c.check(
                &throttle.rate,
                rate.is_finite() && rate > 0.0 && rate <= 1_000_000.0,
                format!("throttle rate {rate} must be positive"),
                "an unset or zero rate makes API Gateway refuse every request; the seed uses 100",
            );
            c.check(
                &throttle.burst,
                (1..=1_000_000).contains(&burst),
                format!("throttle burst {burst} must be at least 1"),
                "the seed uses 200",
            );
            if let Some(log) = &stage.access_log {
                check_ref(c, log, &log_group_names, "log_group");
            }
            StageSpec {
                name: stage_name,
                auto_deploy: stage.auto_deploy.unwrap_or(true),
                throttle_rate: rate,
                throttle_burst: burst.clamp(0, i32::MAX as i64) as i32,
                access_log: stage.access_log.map(Spanned::into_inner),
                detailed_metrics: stage.detailed_metrics.unwrap_or(false),
            }
        });
        let mut routes = BTreeMap::new();
        for (route_key, route) in &api.routes {
            check_route_key(c, route_key);
            let auth = route.get_ref().auth.get_ref().clone();
            let authorizer = if auth == "none" {
                None
            } else {
                if !authorizers.contains_key(&auth) {
                    let declared: Vec<&String> = authorizers.keys().collect();
                    c.check(
                        &route.get_ref().auth,
                        false,
                        format!("route `{}` uses auth `{auth}`, which is not an authorizer of [api.{}]", route_key.get_ref(), key.get_ref()),
                        &format!("use \"none\" or one of {declared:?}, declared as [api.{}.authorizer.<name>]", key.get_ref()),
                    );
                }
                Some(auth)
            };
            routes.insert(route_key.get_ref().clone(), RouteSpec { authorizer });
        }
        let port = match &api.port {
            Some(p) => {
                c.check(p, (1..=65535).contains(p.get_ref()), format!("port {} is out of range", p.get_ref()), "the backend's port, from 1 to 65535; default 80");
                (*p.get_ref()).clamp(1, 65535) as u16
            }
            None => 80,
        };
        let vpc_link = api.vpc_link.map(|link| {
            c.check(&link, !link.get_ref().security_groups.is_empty(), "a VPC link needs at least one security group", "declare one for the link, e.g. [security_group.link], and allow the backend port from it");
            let backend_vpc = instances
                .get(api.backend.get_ref())
                .and_then(|i: &InstanceSpec| i.security_groups.iter().find_map(|g| security_groups.get(g).and_then(|g: &SecurityGroupSpec| g.vpc_id.clone())));
            if let (Some(vpc), true) = (backend_vpc, link.get_ref().subnets.is_empty()) {
                c.check(
                    &link,
                    false,
                    format!("the backend is in {vpc}, so the VPC link needs subnets of {vpc}"),
                    "add subnets = [\"subnet-…\"] to vpc_link; only the default VPC has default subnets",
                );
            }
            let link = link.into_inner();
            for g in &link.security_groups {
                check_ref(c, g, &sg_names, "security_group");
            }
            for s in &link.subnets {
                c.check(s, s.get_ref().starts_with("subnet-"), format!("`{}` is not a subnet id", s.get_ref()), "subnet ids look like \"subnet-0a1b2c3d\"");
            }
            VpcLinkSpec {
                security_groups: link.security_groups.into_iter().map(Spanned::into_inner).collect(),
                subnets: link.subnets.into_iter().map(Spanned::into_inner).collect(),
            }
        });
        apis.insert(
            key.into_inner(),
            ApiSpec {
                name: api.name.into_inner(),
                backend: api.backend.into_inner(),
                authorizers,
                stage,
                routes,
                port,
                vpc_link,
            },
        );
    }

    let state_backend = raw.state.and_then(|st| {
        let at = st.span();
        let st = st.into_inner();
        let backend = st.backend.as_ref().map(|b| b.get_ref().as_str()).unwrap_or("local");
        if let Some(b) = &st.backend {
            c.check(b, ["local", "s3"].contains(&backend), format!("`{backend}` is not a state backend"), "use \"local\" (a file beside the spec) or \"s3\"");
        }
        if backend != "s3" {
            for extra in [&st.bucket, &st.key, &st.region].into_iter().flatten() {
                c.check(extra, false, "bucket, key and region are for backend = \"s3\"", "add backend = \"s3\", or remove them");
            }
            return None;
        }
        let Some(bucket) = &st.bucket else {
            c.at(at, "an S3 state backend needs a bucket", Some("bucket = \"acme-gwctl-state\": a bucket with versioning on".into()));
            return None;
        };
        let b = bucket.get_ref();
        let ok = (3..=63).contains(&b.len())
            && b.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-' || ch == '.')
            && b.starts_with(|ch: char| ch.is_ascii_alphanumeric())
            && b.ends_with(|ch: char| ch.is_ascii_alphanumeric());
        c.check(bucket, ok, format!("`{b}` is not an S3 bucket name"), "3 to 63 lowercase letters, digits, dots and dashes");
        let key = st.key.as_ref().map(|k| k.get_ref().clone()).unwrap_or_else(|| format!("{name}.json"));
        if let Some(k) = &st.key {
            c.check(k, !key.is_empty() && !key.ends_with('/') && key.len() <= 1000, format!("`{key}` is not an object key for a state"), "e.g. \"job-work-planner.json\" or \"teams/planning/gateway.json\"");
        }
        let region = st.region.as_ref().map(|r| r.get_ref().clone()).unwrap_or_else(|| region.clone());
        if let Some(r) = &st.region {
            c.check(r, is_region(r.get_ref()), format!("`{}` is not an AWS region", r.get_ref()), "e.g. \"ap-south-1\"");
        }
        Some(S3StateSpec { bucket: b.clone(), key, region })
    });

    let drift_ignore = raw
        .drift
        .map(|d| d.ignore.into_iter().map(Spanned::into_inner).collect())
        .unwrap_or_default();

    let mut lint_allow = BTreeMap::new();
    for (i, allow) in raw.lint.map(|l| l.allow).unwrap_or_default().into_iter().enumerate() {
        let allow = allow.into_inner();
        let id = allow.id.get_ref().clone();
        c.mark(format!("lint.allow[{i}]"), allow.id.span());
        c.check(
            &allow.id,
            findings::IDS.iter().any(|(known, _)| *known == id),
            format!("`{id}` is not a finding gwctl reports"),
            &format!("the findings are {}", findings::IDS.iter().map(|(id, _)| *id).collect::<Vec<_>>().join(", ")),
        );
        c.check(&allow.reason, !allow.reason.get_ref().trim().is_empty(), "an acknowledged finding needs a reason", "say why the finding is accepted; it is printed with it");
        lint_allow.insert(id, allow.reason.into_inner());
    }

    Spec {
        file: PathBuf::from(c.file),
        project: name,
        region,
        tags,
        roles,
        security_groups,
        instances,
        log_groups,
        user_pools,
        apis,
        drift_ignore,
        state_backend,
        lint_allow,
        positions: std::mem::take(&mut c.positions),
    }
}

/// The sign-in flows an app client may allow (ExplicitAuthFlows, without `ALLOW_`).
const AUTH_FLOWS: &[&str] = &["USER_SRP_AUTH", "REFRESH_TOKEN_AUTH", "USER_PASSWORD_AUTH", "ADMIN_USER_PASSWORD_AUTH", "CUSTOM_AUTH", "USER_AUTH"];

fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit()))
        && parts.last().is_some_and(|p| p.chars().all(|ch| ch.is_ascii_digit()))
}

/// A table name becomes part of AWS names and addresses.
fn check_local_name(c: &mut Checker, key: &Spanned<String>, kind: &str, project: &str) {
    let k = key.get_ref();
    let ok = !k.is_empty()
        && k.len() <= 24
        && k.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-');
    c.check(
        key,
        ok,
        format!("`{k}` is not a usable name for a {kind}"),
        &format!("use up to 24 letters, digits, - and _; AWS names are \"{project}-<name>\""),
    );
}

fn check_ref(c: &mut Checker, reference: &Spanned<String>, declared: &BTreeSet<String>, kind: &str) {
    let name = reference.get_ref();
    if !declared.contains(name) {
        let hint = if declared.is_empty() {
            format!("declare it as [{kind}.{name}]")
        } else {
            let list: Vec<&String> = declared.iter().collect();
            format!("declared {kind} names: {list:?}")
        };
        c.check(reference, false, format!("`{name}` does not name a declared [{kind}.*]"), &hint);
    }
}

fn check_rule(c: &mut Checker, rule: &Spanned<RawRule>) -> Option<Rule> {
    let r = rule.get_ref();
    let before = c.problems.len();
    // Numbers as AWS reports them ("6" is tcp), so that a rule converges.
    let proto = super::protocol_name(r.protocol.get_ref());
    let proto = match proto.as_str() {
        "-1" | "tcp" | "udp" | "icmp" | "icmpv6" => proto,
        other if other.parse::<u8>().is_ok() => other.to_string(),
        _ => {
            c.check(&r.protocol, false, format!("`{}` is not a protocol", r.protocol.get_ref()), "use \"tcp\", \"udp\", \"icmp\" or \"-1\" (all)");
            proto
        }
    };
    match (&r.cidr, &r.security_group) {
        (Some(cidr), None) => c.check(
            cidr,
            is_cidr(cidr.get_ref()),
            format!("`{}` is not a CIDR block", cidr.get_ref()),
            "write an address with a prefix length, e.g. \"10.0.0.0/16\" or \"0.0.0.0/0\"",
        ),
        (None, Some(_)) => {}
        _ => c.check(rule, false, "give either `cidr` or `security_group`", "e.g. cidr = \"10.0.0.0/16\", or security_group = \"link\" for a declared group"),
    }
    let (from, to) = match (&r.port, &r.from_port, &r.to_port) {
        (Some(p), None, None) => (Some(p), Some(p)),
        (None, Some(f), Some(t)) => (Some(f), Some(t)),
        (None, None, None) => (None, None),
        _ => {
            c.check(rule, false, "give either `port` or both `from_port` and `to_port`", "");
            (None, None)
        }
    };
    let ports_needed = proto == "tcp" || proto == "udp";
    if ports_needed && from.is_none() && c.problems.len() == before {
        c.check(rule, false, format!("a {proto} rule needs `port` or `from_port`/`to_port`"), "e.g. port = 80");
    }
    let min = if proto.starts_with("icmp") { -1 } else { 0 };
    for p in [from, to].into_iter().flatten() {
        c.check(p, (min..=65535).contains(p.get_ref()), format!("port {} is out of range", p.get_ref()), "ports run from 0 to 65535");
    }
    if proto == "-1" && from.is_some() {
        c.check(rule, false, "protocol \"-1\" (all) covers every port; remove the port", "");
    }
    if let (Some(f), Some(t)) = (from, to) {
        if f.get_ref() > t.get_ref() {
            c.check(f, false, "from_port is greater than to_port", "");
        }
    }
    if c.problems.len() != before {
        return None;
    }
    let (from_port, to_port) = if proto == "-1" {
        (None, None)
    } else {
        (from.map(|p| *p.get_ref() as i32), to.map(|p| *p.get_ref() as i32))
    };
    Some(Rule {
        protocol: proto,
        from_port,
        to_port,
        cidr: r.cidr.as_ref().map(|c| normalize_cidr(c.get_ref())).unwrap_or_default(),
        security_group: r.security_group.as_ref().map(|g| g.get_ref().clone()),
    })
}

fn is_cidr(text: &str) -> bool {
    let Some((addr, len)) = text.split_once('/') else {
        return false;
    };
    let Ok(len) = len.parse::<u8>() else {
        return false;
    };
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => len <= 32,
        Ok(std::net::IpAddr::V6(_)) => len <= 128,
        Err(_) => false,
    }
}

fn normalize_cidr(text: &str) -> String {
    text.to_ascii_lowercase()
}

fn check_route_key(c: &mut Checker, key: &Spanned<String>) {
    let k = key.get_ref();
    if k == "$default" {
        return;
    }
    let hint = "write `METHOD /path`, e.g. \"GET /health\" or \"ANY /jobs/{proxy+}\", or \"$default\"";
    let Some((method, path)) = k.split_once(' ') else {
        c.check(key, false, format!("route key `{k}` is not `METHOD /path`"), hint);
        return;
    };
    if !ROUTE_METHODS.contains(&method) {
        c.check(key, false, format!("route key `{k}`: `{method}` is not a method API Gateway routes"), &format!("use one of {ROUTE_METHODS:?}"));
        return;
    }
    if !path.starts_with('/') || path.contains(' ') || path.contains("//") || (path.len() > 1 && path.ends_with('/')) {
        c.check(key, false, format!("route key `{k}`: `{path}` is not a route path"), hint);
        return;
    }
    let segments: Vec<&str> = path[1..].split('/').collect();
    let last = segments.len().saturating_sub(1);
    for (i, seg) in segments.iter().enumerate() {
        if seg.is_empty() && path != "/" {
            c.check(key, false, format!("route key `{k}` has an empty path segment"), hint);
            return;
        }
        if seg.starts_with('{') || seg.ends_with('}') || seg.contains('{') || seg.contains('}') {
            let inner = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
            let Some(inner) = inner else {
                c.check(key, false, format!("route key `{k}`: segment `{seg}` is not a path parameter"), "a parameter is a whole segment, e.g. {id}");
                return;
            };
            let (name, greedy) = match inner.strip_suffix('+') {
                Some(n) => (n, true),
                None => (inner, false),
            };
            if name.is_empty() || !name.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
                c.check(key, false, format!("route key `{k}`: `{seg}` is not a valid parameter name"), "");
                return;
            }
            if greedy && i != last {
                c.check(key, false, format!("route key `{k}`: greedy parameter `{seg}` must be the last segment"), "API Gateway accepts {name+} only at the end of the path");
                return;
            }
        } else if !seg.chars().all(|ch| ch.is_ascii_alphanumeric() || "-._~".contains(ch)) {
            c.check(key, false, format!("route key `{k}`: segment `{seg}` has characters API Gateway rejects"), hint);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_protocols_take_the_names_aws_reports() {
        for (given, reported) in [("6", "tcp"), ("17", "udp"), ("1", "icmp"), ("58", "icmpv6"), ("ALL", "-1"), ("-1", "-1"), ("TCP", "tcp"), ("47", "47")] {
            assert_eq!(super::super::protocol_name(given), reported, "{given}");
        }
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway.toml");
        let seed = std::fs::read_to_string(&path).unwrap();
        let spec = parse(&path, &seed.replacen("protocol = \"tcp\"", "protocol = \"6\"", 1)).unwrap();
        assert_eq!(spec.security_groups["backend"].ingress[0].protocol, "tcp", "a rule given as 6 converges with what EC2 reports");
    }

    #[test]
    fn a_client_without_the_refresh_flow_is_refused_at_its_line() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway.toml");
        let seed = std::fs::read_to_string(&path).unwrap();
        let line = seed.lines().position(|l| l.starts_with("auth_flows")).unwrap() + 1;
        let without = seed.replacen("\"USER_SRP_AUTH\", \"REFRESH_TOKEN_AUTH\", ", "\"USER_SRP_AUTH\", ", 1);
        assert_ne!(without, seed);
        let problems = match parse(&path, &without) {
            Err(SpecError::Invalid(problems)) => problems,
            other => panic!("accepted: {:?}", other.map(|_| ())),
        };
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].line, line);
        assert!(problems[0].message.contains("REFRESH_TOKEN_AUTH"), "{}", problems[0].message);
        assert!(parse(&path, &seed.replacen("auth_flows = [", "auth_flows = [\"ALLOW_REFRESH_TOKEN_AUTH\", ", 1)).is_ok());
    }

    #[test]
    fn a_short_line_is_shown_whole() {
        assert_eq!(excerpt("key = 1", 0, 3), ("key = 1".to_string(), 0, 3));
    }

    #[test]
    fn a_long_line_is_cut_around_the_column_keeping_the_caret_on_its_character() {
        let line: String = (0..10_000).map(|i| char::from(b'a' + (i % 26) as u8)).chain("é🙂".chars()).collect();
        for at in [0, 10, 79, 80, 5_000, 9_999, 10_001] {
            let (shown, caret, width) = excerpt(&line, at, 50);
            let chars: Vec<char> = shown.chars().collect();
            assert!(chars.len() <= EXCERPT_CHARS + 2, "{at}: {} characters", chars.len());
            assert_eq!(chars[caret], line.chars().nth(at).unwrap(), "{at}: {shown}");
            assert_eq!(chars[0] == '…', at >= EXCERPT_CHARS * 2 / 3, "{at}: {shown}");
            assert!(width <= 50 && !chars[caret..caret + width].contains(&'…'), "{at}: {width}");
        }
    }

    #[test]
    fn long_quoted_input_is_cut_in_the_middle() {
        let long = "x".repeat(500);
        let cut = cut_quoted(&format!("unknown field `{long}`, expected `rate` or \"{long}\""));
        let short = format!("{}…{}", "x".repeat(49), "x".repeat(50));
        assert_eq!(cut, format!("unknown field `{short}`, expected `rate` or \"{short}\""));
        assert_eq!(cut_quoted("unclosed `ééé"), "unclosed `ééé");
        assert_eq!(cut_quoted(&"y".repeat(1000)).chars().count(), MESSAGE_CHARS);
    }
}
