//! `gwctl verify`: proof that the live stack does what the spec promises,
//! by using it as its callers and attackers would (design.md §9). Each
//! check says what it tried and what it saw; none changes the stack (the
//! one thing made, a throwaway user, is removed again).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use base64::Engine as _;
use serde::Serialize;
use serde_json::{json, Value};

use crate::model::{s, strings, Attrs};
use crate::provider::apigw::{api, route, stage};
use crate::provider::aws::Aws;
use crate::provider::checks::{self, ThrowawayUser};
use crate::provider::cognito;
use crate::provider::ec2::{instance, security_group};
use crate::provider::probe::{self, Answer, Http};
use crate::spec::{ApiSpec, Spec};
use crate::state::State;

/// How `verify` runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Replaces the API's invoke URL (a local data plane, a custom domain).
    pub endpoint: Option<String>,
    /// The environment variable holding a valid token, instead of a throwaway user's.
    pub token_env: Option<String>,
    /// Also fire more than the burst at a public route and expect 429s.
    pub throttle: bool,
    /// How long access-log lines may take to arrive.
    pub log_wait: Duration,
}

/// One check: its name, whether it holds, and what was tried and seen.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

impl Check {
    fn new(name: impl Into<String>, ok: bool, detail: impl Into<String>) -> Check {
        Check { name: name.into(), ok, detail: detail.into() }
    }
}

#[derive(Debug, Default)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    pub fn ok(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.ok)
    }

    pub fn json(&self) -> Value {
        json!({"format_version": "1", "checks": self.checks, "ok": self.ok()})
    }

    pub fn human(&self) -> String {
        let width = self.checks.iter().map(|c| c.name.chars().count()).max().unwrap_or(0);
        let mut out = String::new();
        for c in &self.checks {
            let mark = if c.ok { "✓" } else { "✗" };
            out.push_str(&format!("{mark} {:width$}  {}\n", c.name, c.detail));
        }
        let held = self.checks.iter().filter(|c| c.ok).count();
        match self.ok() {
            true => out.push_str(&format!("\nAll {held} checks hold.\n")),
            false => out.push_str(&format!("\n{} of {} checks fail.\n", self.checks.len() - held, self.checks.len())),
        }
        out
    }
}

/// The value the probes put where a route has a path variable.
const PROBE_SEGMENT: &str = "gwctl-verify";

pub async fn verify(aws: &Aws, spec: &Spec, state: &State, opts: &Options) -> Result<Report, crate::engine::refresh::RefreshError> {
    let refreshed = crate::engine::refresh::refresh(aws, state).await?;
    let live: HashMap<String, Attrs> = refreshed.live.into_iter().filter_map(|(a, v)| Some((a, v?))).collect();
    let mut report = Report::default();
    let http = match Http::new(Duration::from_secs(10)) {
        Ok(http) => http,
        Err(e) => {
            report.checks.push(Check::new("http client", false, e));
            return Ok(report);
        }
    };
    for (name, api_spec) in &spec.apis {
        let prefix = if spec.apis.len() > 1 { format!("{name}: ") } else { String::new() };
        let before = report.checks.len();
        verify_api(aws, state, &live, &http, name, api_spec, opts, &mut report).await;
        for c in &mut report.checks[before..] {
            c.name = format!("{prefix}{}", c.name);
        }
    }
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
async fn verify_api(aws: &Aws, state: &State, live: &HashMap<String, Attrs>, http: &Http, name: &str, a: &ApiSpec, opts: &Options, report: &mut Report) {
    let checks = &mut report.checks;
    let Some(api_live) = live.get(&api::address(name)) else {
        checks.push(Check::new("api", false, format!("{} is not in AWS: run `gwctl apply` first", api::address(name))));
        return;
    };
    let stage_live = live.get(&stage::address(name));
    let stage_name = stage_live.map(|st| s(st, "name").to_string()).unwrap_or_else(|| "$default".into());
    let base = match &opts.endpoint {
        Some(e) => e.trim_end_matches('/').to_string(),
        None if stage_name == "$default" => s(api_live, "api_endpoint").to_string(),
        None => format!("{}/{stage_name}", s(api_live, "api_endpoint")),
    };
    let since = now_ms() - 60_000;
    let mut request_ids: Vec<String> = Vec::new();
    let mut note = |answer: &Result<Answer, String>| {
        if let Ok(Answer { request_id: Some(id), .. }) = answer {
            request_ids.push(id.clone());
        }
    };

    // Public routes answer without a token.
    let public: Vec<(&String, (String, String))> = a.routes.iter().filter(|(_, r)| r.authorizer.is_none()).map(|(k, _)| (k, probe_request(k))).collect();
    let answers = futures::future::join_all(public.iter().map(|(_, (method, path))| http.send(method, format!("{base}{path}"), vec![]))).await;
    for ((key, (method, path)), answer) in public.iter().zip(&answers) {
        note(answer);
        let ok = answer.as_ref().is_ok_and(from_backend);
        checks.push(Check::new(format!("public {key}"), ok, format!("{method} {path} without a token: {}", seen(answer))));
    }

    // Routes the live API has that the spec does not declare: nothing the
    // spec promises covers them.
    let api_id = state.get(&api::address(name)).map(|r| r.id.clone()).unwrap_or_default();
    match crate::provider::of(route::KIND).list_in(aws, &api_id, &[]).await {
        Err(e) => checks.push(Check::new("routes", false, format!("listing the API's routes: {e}"))),
        Ok(listed) => {
            let undeclared: Vec<(String, String)> = listed
                .unwrap_or_default()
                .into_iter()
                .map(|(_, attrs)| (s(&attrs, "route_key").to_string(), s(&attrs, "authorization_type").to_string()))
                .filter(|(key, _)| !a.routes.contains_key(key))
                .collect();
            for (key, auth) in undeclared {
                let (method, path) = probe_request(&key);
                let answer = http.send(&method, format!("{base}{path}"), vec![]).await;
                note(&answer);
                checks.push(Check::new(
                    format!("undeclared {key}"),
                    false,
                    format!("in the live API (authorization {auth}) but not in the spec; {method} {path} without a token: {}", seen(&answer)),
                ));
            }
        }
    }

    // Tokens: one per authorizer the routes use.
    let mut tokens: BTreeMap<&str, Result<String, String>> = BTreeMap::new();
    let mut users: Vec<ThrowawayUser> = Vec::new();
    let used: std::collections::BTreeSet<&str> = a.routes.values().filter_map(|r| r.authorizer.as_deref()).collect();
    for auth_name in used {
        let Some(auth) = a.authorizers.get(auth_name) else { continue };
        let token = match (&opts.token_env, &auth.user_pool) {
            (Some(var), _) => match std::env::var(var) {
                Ok(t) if !t.trim().is_empty() => {
                    checks.push(Check::new(format!("token {auth_name}"), true, format!("from ${var} (the routes below show whether it is valid)")));
                    Ok(t.trim().trim_start_matches("Bearer ").to_string())
                }
                _ => Err(format!("--token-env {var}: the variable is not set")),
            },
            (None, Some(pool)) => match mint(aws, state, live, pool, &auth.clients).await {
                Ok((user, client, swept)) => {
                    checks.push(Check::new(
                        format!("token {auth_name}"),
                        true,
                        format!("signed in throwaway user {} of user pool {} through client {client}", user.username, user.pool_id),
                    ));
                    match swept {
                        Ok(names) if names.is_empty() => {}
                        Ok(names) => checks.push(Check::new(
                            format!("left-behind users {pool}"),
                            true,
                            format!("removed {} that earlier runs stopped before removing: {}", names.len(), names.join(", ")),
                        )),
                        // Housekeeping, not a promise of the stack: a policy from
                        // before it (without cognito-idp:ListUsers) must not fail verify.
                        Err(e) => checks.push(Check::new(
                            format!("left-behind users {pool}"),
                            true,
                            format!("could not look for users earlier runs left behind (the verify policy needs cognito-idp:ListUsers): {e}"),
                        )),
                    }
                    let token = user.access_token.clone();
                    users.push(user);
                    Ok(token)
                }
                Err(e) => Err(e),
            },
            (None, None) => Err(format!("{} is an external issuer: pass one of its tokens with --token-env VAR", auth.issuer)),
        };
        if let Err(why) = &token {
            checks.push(Check::new(format!("token {auth_name}"), false, why.clone()));
        }
        tokens.insert(auth_name, token);
    }

    // Each authorizer trusts exactly the issuer and audience the spec names.
    for auth_name in tokens.keys() {
        let Some(auth) = a.authorizers.get(*auth_name) else { continue };
        let (issuer, mut audience) = match &auth.user_pool {
            None => (auth.issuer.clone(), auth.audience.clone()),
            Some(pool) => {
                let id = |address: String| state.get(&address).map(|r| r.id.clone()).unwrap_or_default();
                let clients = auth.clients.iter().map(|c| id(cognito::client::address(pool, c))).collect();
                let issuer = live.get(&cognito::user_pool::address(pool)).map(|p| s(p, "issuer").to_string()).unwrap_or_default();
                (issuer, clients)
            }
        };
        audience.sort();
        let address = crate::provider::apigw::authorizer::address(name, auth_name);
        checks.push(match live.get(&address) {
            None => Check::new(format!("authorizer {auth_name}"), false, format!("{address} is not in AWS")),
            Some(l) => {
                let (live_issuer, mut live_audience) = (s(l, "issuer").to_string(), strings(l, "audience"));
                live_audience.sort();
                let ok = live_issuer == issuer && live_audience == audience;
                let detail = match ok {
                    true => format!("trusts {issuer}, audience {}: the spec's", audience.join(", ")),
                    false => format!("trusts {live_issuer}, audience {}; the spec's are {issuer}, audience {}", live_audience.join(", "), audience.join(", ")),
                };
                Check::new(format!("authorizer {auth_name}"), ok, detail)
            }
        });
    }

    // Protected routes: refused without a valid token, passed on with one.
    let protected: Vec<(&String, &str, (String, String))> = a.routes.iter().filter_map(|(k, r)| Some((k, r.authorizer.as_deref()?, probe_request(k)))).collect();
    let runs = protected.iter().map(|(_, auth, (method, path))| {
        let valid = tokens.get(auth).and_then(|t| t.as_ref().ok()).cloned();
        let issuer = a.authorizers.get(*auth).map(|x| x.issuer.clone()).unwrap_or_default();
        let url = format!("{base}{path}");
        async move {
            let (forged, expired) = counterfeits(valid.as_deref(), &issuer);
            let bearer = |t: &str| vec![("authorization", format!("Bearer {t}"))];
            let (none, forged, expired) = futures::join!(http.send(method, url.clone(), vec![]), http.send(method, url.clone(), bearer(&forged)), http.send(method, url.clone(), bearer(&expired)));
            // A valid token would let a request that changes data through.
            let valid = match &valid {
                Some(t) if SAFE_METHODS.contains(&method.as_str()) => Some(http.send(method, url.clone(), bearer(t)).await),
                _ => None,
            };
            (none, forged, expired, valid)
        }
    });
    let results = futures::future::join_all(runs).await;
    for ((key, auth, (method, path)), (none, forged, expired, valid)) in protected.iter().zip(results) {
        for answer in [&none, &forged, &expired] {
            note(answer);
        }
        if let Some(v) = &valid {
            note(v);
        }
        let refused = |x: &Result<Answer, String>| x.as_ref().is_ok_and(|x| x.status == 401);
        let has_token = tokens.get(*auth).is_some_and(|t| t.is_ok());
        let unsafe_method = !SAFE_METHODS.contains(&method.as_str());
        let passed = match &valid {
            Some(v) => v.as_ref().is_ok_and(from_backend),
            None => unsafe_method && has_token,
        };
        let ok = refused(&none) && refused(&forged) && refused(&expired) && passed;
        let valid_seen = match &valid {
            Some(v) => status_of(v),
            None if unsafe_method && has_token => format!("not sent ({method} would change data)"),
            None => "not tried (no token)".into(),
        };
        let detail = format!(
            "{method} {path}: no token {}, forged {}, expired {}, valid token {}",
            status_of(&none),
            status_of(&forged),
            status_of(&expired),
            valid_seen
        );
        checks.push(Check::new(format!("jwt {key}"), ok, detail));
    }
    for user in &users {
        if let Err(e) = checks::remove_user(aws, &user.pool_id, &user.username).await {
            checks.push(Check::new("throwaway user removed", false, format!("{} is left in {}: {e}", user.username, user.pool_id)));
        }
    }

    // The backend takes requests only through the gateway.
    let backend = live.get(&instance::address(&a.backend));
    let reference = public.iter().zip(&answers).find_map(|((_, (_, path)), answer)| Some((path.clone(), answer.as_ref().ok()?.clone())));
    let link_groups = live.get(&crate::provider::apigw::vpc_link::address(name)).map(|l| strings(l, "security_group_ids")).unwrap_or_default();
    checks.push(backend_private(aws, state, live, backend, a, &link_groups, reference).await);

    // Access logs of the requests just made.
    checks.push(match stage_live.map(|st| s(st, "access_log_destination")).filter(|d| !d.is_empty()) {
        None if stage_live.is_none() => Check::new("access logs", false, format!("{} is not in AWS: the API serves nothing", stage::address(name))),
        None => Check::new("access logs", false, format!("stage {stage_name} writes no access logs: requests go unrecorded")),
        Some(arn) => {
            let group = arn.split_once(":log-group:").map(|(_, g)| g.trim_end_matches(":*")).unwrap_or(arn).to_string();
            if request_ids.is_empty() {
                Check::new("access logs", false, format!("no request got an answer with a request id, so none can be looked for in {group}"))
            } else {
                match checks::find_log_lines(aws, &group, since, &request_ids, opts.log_wait).await {
                    Ok((found, took)) => Check::new(
                        "access logs",
                        found.len() == request_ids.len(),
                        format!("{} of {} requests found in {group} after {:.1} s", found.len(), request_ids.len(), took.as_secs_f64()),
                    ),
                    Err(e) => Check::new("access logs", false, format!("reading {group}: {e}")),
                }
            }
        }
    });

    // The instance is managed through Systems Manager, not SSH.
    match backend {
        None => checks.push(Check::new("ssm", false, format!("{} is not in AWS", instance::address(&a.backend)))),
        Some(attrs) => {
            let id = state.get(&instance::address(&a.backend)).map(|r| r.id.clone()).unwrap_or_default();
            checks.push(match checks::ssm_status(aws, &id).await {
                Ok(Some((status, agent))) => Check::new(
                    "ssm",
                    status == "Online",
                    format!("{id} is {status} in Systems Manager{}", agent.map(|v| format!(" (agent {v})")).unwrap_or_default()),
                ),
                Ok(None) => Check::new("ssm", false, format!("{id} is not registered with Systems Manager: is its role allowed (AmazonSSMManagedInstanceCore) and can it reach SSM?")),
                Err(e) => Check::new("ssm", false, e.to_string()),
            });
            let key = attrs.get("key_name").and_then(Value::as_str).filter(|k| !k.is_empty());
            checks.push(match key {
                None => Check::new("no key pair", true, format!("{id} was launched without an SSH key pair: shell access is through Session Manager")),
                Some(k) => Check::new("no key pair", false, format!("{id} was launched with key pair {k}: SSH keys bypass Session Manager's audit")),
            });
        }
    }

    // The stage's throttle is the spec's, for every route.
    if let Some(want) = &a.stage {
        let rate = stage_live.and_then(|st| st.get("throttle_rate")).and_then(Value::as_f64);
        let burst = stage_live.and_then(|st| st.get("throttle_burst")).and_then(Value::as_i64);
        let overrides = match stage_live {
            Some(_) => checks::route_throttles(aws, &api_id, &stage_name).await,
            None => Ok(Vec::new()),
        };
        let shown = |v: Option<String>| v.unwrap_or_else(|| "unset".into());
        let stage_ok = rate == Some(want.throttle_rate) && burst == Some(want.throttle_burst as i64);
        let mut detail = match stage_live {
            None => format!("{} is not in AWS", stage::address(name)),
            Some(_) => format!(
                "stage {stage_name}: {} requests/s, burst {} (spec: {}, {})",
                shown(rate.map(|r| r.to_string())),
                shown(burst.map(|b| b.to_string())),
                want.throttle_rate,
                want.throttle_burst
            ),
        };
        let ok = match &overrides {
            Ok(routes) if routes.is_empty() => stage_ok,
            Ok(routes) => {
                let each: Vec<String> = routes.iter().map(|(key, r, b)| format!("{key}: {} requests/s, burst {}", shown(r.map(|r| r.to_string())), shown(b.map(|b| b.to_string())))).collect();
                detail.push_str(&format!("; overridden for {}", each.join("; ")));
                false
            }
            Err(e) => {
                detail.push_str(&format!("; route settings unread: {e}"));
                false
            }
        };
        checks.push(Check::new("throttle", ok, detail));
        if opts.throttle {
            checks.push(throttle_fires(http, &base, a, want.throttle_rate, want.throttle_burst).await);
        }
    }
}

/// Methods that change nothing by HTTP's definition: only these carry a valid token.
const SAFE_METHODS: &[&str] = &["GET", "HEAD", "OPTIONS"];

/// A concrete request for a route key: `ANY` as GET, each path variable
/// (greedy or not) filled in; `$default` as a GET of a path no declared
/// route matches.
fn probe_request(route_key: &str) -> (String, String) {
    let Some((method, path)) = route_key.split_once(' ') else { return ("GET".into(), format!("/{PROBE_SEGMENT}-unmatched")) };
    let method = if method == "ANY" { "GET" } else { method };
    let path: Vec<String> = path.split('/').map(|seg| if seg.starts_with('{') && seg.ends_with('}') { PROBE_SEGMENT.to_string() } else { seg.to_string() }).collect();
    (method.to_string(), path.join("/"))
}

/// An answer that came from the backend, not from API Gateway refusing or
/// failing to reach it (401/403 authorizer, 429 throttle, 5xx integration,
/// its own 404 for no route or stage).
fn reached_backend(status: u16) -> bool {
    !matches!(status, 401 | 403 | 429) && status < 500
}

fn from_backend(a: &Answer) -> bool {
    reached_backend(a.status) && !gateway_not_found(a)
}

/// API Gateway's answer when no route or stage matches.
fn gateway_not_found(a: &Answer) -> bool {
    a.status == 404 && a.body.trim() == r#"{"message":"Not Found"}"#
}

fn status_of(answer: &Result<Answer, String>) -> String {
    match answer {
        Ok(a) => a.status.to_string(),
        Err(e) => format!("no answer ({e})"),
    }
}

fn seen(answer: &Result<Answer, String>) -> String {
    match answer {
        Ok(a) if from_backend(a) => format!("{} from the backend", a.status),
        Ok(a) if gateway_not_found(a) => "404 from API Gateway: no route or stage matches".into(),
        Ok(a) => format!("{} {}", a.status, a.body.chars().take(80).collect::<String>().trim()),
        Err(e) => format!("no answer ({e})"),
    }
}

/// A forged token (the valid one's signature altered, or a made-up one
/// when there is none) and an expired one (its `exp` an hour ago, so its
/// signature no longer matches either; a genuinely expired token would take
/// the pool's shortest validity, 5 minutes, to wait for).
fn counterfeits(valid: Option<&str>, issuer: &str) -> (String, String) {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let now = now_ms() / 1000;
    let parts: Vec<&str> = valid.map(|t| t.split('.').collect()).unwrap_or_default();
    let (header, payload, signature) = match parts.as_slice() {
        [h, p, sig] => (h.to_string(), b64.decode(p).ok().and_then(|p| serde_json::from_slice::<Value>(&p).ok()).unwrap_or(json!({})), b64.decode(sig).unwrap_or_default()),
        _ => (
            b64.encode(json!({"alg": "RS256", "kid": PROBE_SEGMENT, "typ": "JWT"}).to_string()),
            json!({"iss": issuer, "client_id": PROBE_SEGMENT, "token_use": "access", "iat": now, "exp": now + 3600}),
            vec![0u8; 256],
        ),
    };
    let forged_sig: Vec<u8> = signature.iter().map(|b| b ^ 0xff).collect();
    let forged = format!("{header}.{}.{}", b64.encode(payload.to_string()), b64.encode(&forged_sig));
    let mut old = payload;
    old["iat"] = json!(now - 7200);
    old["exp"] = json!(now - 3600);
    let expired = format!("{header}.{}.{}", b64.encode(old.to_string()), b64.encode(&signature));
    (forged, expired)
}

/// Signs in a throwaway user of the pool through the first of `clients`
/// that allows ADMIN_USER_PASSWORD_AUTH; the user, the client's name, and
/// the users of earlier runs that were left behind and are now removed.
async fn mint(
    aws: &Aws,
    state: &State,
    live: &HashMap<String, Attrs>,
    pool: &str,
    clients: &[String],
) -> Result<(ThrowawayUser, String, Result<Vec<String>, crate::provider::aws::AwsError>), String> {
    let pool_address = cognito::user_pool::address(pool);
    let Some(pool_id) = state.get(&pool_address).map(|r| r.id.clone()).filter(|_| live.contains_key(&pool_address)) else {
        return Err(format!("{pool_address} is not in AWS: run `gwctl apply`, or pass a token with --token-env VAR"));
    };
    let usable = clients.iter().find_map(|c| {
        let address = cognito::client::address(pool, c);
        let attrs = live.get(&address)?;
        strings(attrs, "auth_flows").iter().any(|f| f == "ALLOW_ADMIN_USER_PASSWORD_AUTH").then(|| (c.clone(), state.get(&address).map(|r| r.id.clone()).unwrap_or_default()))
    });
    let Some((client, client_id)) = usable else {
        return Err(format!(
            "no client of [user_pool.{pool}] the authorizer names allows ADMIN_USER_PASSWORD_AUTH: add it to a client's auth_flows \
             (it needs AWS credentials), or pass a token with --token-env VAR"
        ));
    };
    let user = checks::throwaway_user(aws, &pool_id, &client_id).await.map_err(|e| e.to_string())?;
    Ok((user, client, checks::sweep_left_behind(aws, &pool_id).await))
}

/// Whether anything but the gateway can reach the backend's port: a rule
/// of its groups that admits an address range (rather than a security
/// group, such as the VPC link's), which AWS enforces; and, as evidence from
/// the network, a request to its public address that the backend answers as
/// it answered `reference` (a public route's path and answer) through the API.
async fn backend_private(
    aws: &Aws,
    state: &State,
    live: &HashMap<String, Attrs>,
    backend: Option<&Attrs>,
    a: &ApiSpec,
    link_groups: &[String],
    reference: Option<(String, Answer)>,
) -> Check {
    let name = "backend private";
    let Some(inst) = backend else { return Check::new(name, false, format!("{} is not in AWS", instance::address(&a.backend))) };
    let port = a.port as i64;
    let by_id: HashMap<String, (&str, &Attrs)> = state
        .resources
        .iter()
        .filter(|r| r.kind == security_group::KIND)
        .filter_map(|r| Some((r.id.clone(), (r.address.as_str(), live.get(&r.address)?))))
        .collect();
    let groups = strings(inst, "security_groups");
    let unknown: Vec<crate::provider::ReadItem> =
        groups.iter().filter(|g| !by_id.contains_key(*g)).map(|g| crate::provider::ReadItem { address: g.clone(), id: g.clone(), attrs: Attrs::new() }).collect();
    let foreign = match crate::provider::read(aws, security_group::KIND, &unknown).await {
        Ok(found) => found,
        Err(e) => return Check::new(name, false, format!("reading the backend's other groups: {e}")),
    };
    let mut open = Vec::new();
    let mut sources = Vec::new();
    for g in &groups {
        let (label, attrs) = match (by_id.get(g), foreign.get(g).and_then(Option::as_ref)) {
            (Some((address, attrs)), _) => (format!("{g} ({address})"), *attrs),
            (None, Some(attrs)) => (g.clone(), attrs),
            (None, None) => continue,
        };
        for rule in attrs.get("ingress").and_then(Value::as_array).into_iter().flatten() {
            let protocol = rule.get("protocol").and_then(Value::as_str).unwrap_or_default();
            let from = rule.get("from_port").and_then(Value::as_i64).unwrap_or(0);
            let to = rule.get("to_port").and_then(Value::as_i64).unwrap_or(65535);
            let covers = protocol == "-1" || (protocol == "tcp" && from <= port && port <= to);
            let source = rule.get("cidr").and_then(Value::as_str).unwrap_or_default();
            let named = match by_id.get(source) {
                Some((address, _)) => format!("{source} ({address})"),
                None => source.to_string(),
            };
            let what = if protocol == "-1" { "all traffic".to_string() } else { format!("tcp {port}") };
            match (covers, source.starts_with("sg-"), link_groups.iter().any(|g| g == source)) {
                (true, true, true) => sources.push(named),
                (true, true, false) => open.push(format!("{label} admits {what} from {named}, which is not the VPC link's")),
                (true, false, _) => open.push(format!("{label} admits {what} from {source}")),
                _ => {}
            }
        }
    }
    if !open.is_empty() {
        return Check::new(name, false, format!("{}: requests can reach the backend without the JWT check, throttle or access log", open.join("; ")));
    }
    let admitted = match sources.is_empty() {
        true => format!("no rule admits port {port}"),
        false => format!("port {port} admits only {}", sources.join(", ")),
    };
    let Some(ip) = inst.get("public_ip").and_then(Value::as_str).filter(|ip| !ip.is_empty()) else {
        return Check::new(name, true, format!("{admitted}; no public address"));
    };
    let Some((path, through_api)) = reference else {
        let (opens, why) = probe::tcp_opens(ip, a.port, Duration::from_secs(3)).await;
        return Check::new(name, !opens, format!("{admitted}; TCP to {ip}:{port}: {why}"));
    };
    let url = format!("http://{ip}:{port}{path}");
    match Http::new(Duration::from_secs(3)) {
        Err(e) => Check::new(name, false, e),
        Ok(direct) => match direct.send("GET", url.clone(), vec![]).await {
            Ok(x) if x.status == through_api.status && x.body == through_api.body => {
                Check::new(name, false, format!("{admitted}, yet GET {url} answered {} as the backend does through the API", x.status))
            }
            Ok(x) => Check::new(name, true, format!("{admitted}; GET {url} got {}, not the backend's answer", x.status)),
            Err(why) => Check::new(name, true, format!("{admitted}; GET {url}: {why}")),
        },
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// The most requests `--throttle` sends at once.
const MAX_THROTTLE_PROBES: usize = 2000;

/// More than the burst at once at a public route: some must be refused 429.
async fn throttle_fires(http: &Http, base: &str, a: &ApiSpec, rate: f64, burst: i32) -> Check {
    let name = "throttle fires";
    let Some((method, path)) = a.routes.iter().filter(|(_, r)| r.authorizer.is_none()).map(|(k, _)| probe_request(k)).next() else {
        return Check::new(name, false, "no public route to send requests to");
    };
    // One second's refill on top of the burst, and 50 more; at most what one
    // host can open at once.
    let n = (burst.max(0) as usize + rate.ceil() as usize + 50).min(MAX_THROTTLE_PROBES);
    let url = format!("{base}{path}");
    let answers = futures::future::join_all((0..n).map(|_| http.send(&method, url.clone(), vec![]))).await;
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    for a in &answers {
        *by_status.entry(match a {
            Ok(a) => a.status.to_string(),
            Err(_) => "no answer".into(),
        })
        .or_default() += 1;
    }
    let throttled = by_status.get("429").copied().unwrap_or(0);
    let counts: Vec<String> = by_status.iter().map(|(k, v)| format!("{k} × {v}")).collect();
    Check::new(name, throttled > 0, format!("{n} concurrent {method} {path}: {}", counts.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_probed_with_their_variables_filled_in() {
        assert_eq!(probe_request("ANY /jobs/{proxy+}"), ("GET".into(), "/jobs/gwctl-verify".into()));
        assert_eq!(probe_request("POST /jobs/{id}/notes"), ("POST".into(), "/jobs/gwctl-verify/notes".into()));
        assert_eq!(probe_request("GET /health"), ("GET".into(), "/health".into()));
        assert_eq!(probe_request("$default"), ("GET".into(), "/gwctl-verify-unmatched".into()));
    }

    #[test]
    fn counterfeits_keep_the_claims_but_not_a_valid_signature() {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = b64.encode(json!({"iss": "https://i", "client_id": "c", "exp": now_ms() / 1000 + 600}).to_string());
        let valid = format!("eyJhbGciOiJSUzI1NiJ9.{payload}.{}", b64.encode([1u8, 2, 3]));
        let (forged, expired) = counterfeits(Some(&valid), "https://i");
        let parts = |t: &str| t.split('.').map(str::to_string).collect::<Vec<_>>();
        assert_eq!(parts(&forged)[1], payload);
        assert_ne!(parts(&forged)[2], parts(&valid)[2]);
        let claims: Value = serde_json::from_slice(&b64.decode(&parts(&expired)[1]).unwrap()).unwrap();
        assert!(claims["exp"].as_i64().unwrap() < now_ms() / 1000);
        assert_eq!(claims["client_id"], "c");
        assert_eq!(parts(&expired)[2], parts(&valid)[2]);
        let (made_up, _) = counterfeits(None, "https://i");
        assert_eq!(parts(&made_up).len(), 3);
    }

    #[test]
    fn only_answers_from_behind_the_gateway_count_as_reaching_the_backend() {
        assert!(reached_backend(200) && reached_backend(404));
        assert!(![401, 403, 429, 500, 503, 504].iter().any(|s| reached_backend(*s)));
    }
}
