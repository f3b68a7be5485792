//! Client-side pacing at AWS's control-plane quotas (docs/design.md §11),
//! adapted to the throttle answers AWS gives.
//!
//! - API Gateway's management API allows about 10 requests per second per
//!   account, burst 40; beyond that it answers 429 and the SDK backs off from
//!   a shared retry budget, so a large apply wastes seconds or fails outright.
//! - EC2 keeps a bucket per API action ("Request throttling for the Amazon
//!   EC2 API"): non-mutating actions (Describe*, Get*) 100 tokens refilled at
//!   20/s, mutating ones 50 refilled at 5/s.
//! - The other services publish no quota that fits one bucket: they go
//!   unpaced until they throttle.
//!
//! Every HTTP attempt, retries included, first takes a token from its bucket.
//! When AWS answers "throttled" anyway (another tool shares the account's
//! quota, or a quota is lower than documented), the bucket slows to 70 % of
//! its rate, at most once a second, and grows back by 5 % of the rate it was
//! cut from a second while answers come through: a little under the rate AWS grants, with a
//! throttled answer every few seconds to find out whether it grants more.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::client::http::{http_client_fn, HttpClient, HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;

/// A quota: `rate` requests per second after a `burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    pub rate: f64,
    pub burst: f64,
}

/// API Gateway's documented control-plane quota.
pub const APIGATEWAY: Quota = Quota { rate: 10.0, burst: 40.0 };
/// API Gateway operations with a quota of their own beside the account's
/// ("Amazon API Gateway quotas": CreateVpcLink 1 request every 15 seconds,
/// DeleteVpcLink 1 every 30 seconds, CreateDeployment 1 every 5 seconds, per
/// account), as (HTTP method, path pattern, name, seconds between requests);
/// `*` stands for one path segment.
pub const APIGATEWAY_OPERATIONS: &[(&str, &str, &str, f64)] = &[
    ("POST", "/v2/vpclinks", "CreateVpcLink", 15.0),
    ("DELETE", "/v2/vpclinks/*", "DeleteVpcLink", 30.0),
    ("POST", "/v2/apis/*/deployments", "CreateDeployment", 5.0),
];

/// Added to an operation's period: AWS counts a request when it arrives,
/// up to a network delay after it left, so two sent exactly one period
/// apart can arrive less than that apart.
const OPERATION_MARGIN: f64 = 1.0;

/// The API Gateway operation of a request that has a quota of its own.
fn apigateway_operation(method: &str, uri: &str) -> Option<(&'static str, Quota)> {
    let path = uri.parse::<http::Uri>().ok()?.path().to_string();
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    APIGATEWAY_OPERATIONS.iter().find_map(|(m, pattern, name, period)| {
        let want: Vec<&str> = pattern.split('/').collect();
        let same = *m == method && want.len() == segments.len() && want.iter().zip(&segments).all(|(w, s)| *w == "*" || w == s);
        same.then_some((*name, Quota { rate: 1.0 / (period + OPERATION_MARGIN), burst: 1.0 }))
    })
}

/// EC2's documented bucket for each non-mutating action.
pub const EC2_NON_MUTATING: Quota = Quota { rate: 20.0, burst: 100.0 };
/// EC2's documented bucket for each mutating action.
pub const EC2_MUTATING: Quota = Quota { rate: 5.0, burst: 50.0 };

/// How pacing behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The documented quotas, slowed by throttle answers (the default).
    Adaptive,
    /// The documented quotas as they are.
    Fixed,
    /// No client-side pacing: only the SDK's retries.
    Off,
}

/// What pacing this process uses, set once before the first client is made.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub mode: Mode,
    /// API Gateway's quota (an account with a raised limit); a rate of 0
    /// sends API Gateway requests unpaced.
    pub apigateway: Quota,
}

static SETTINGS: OnceLock<Settings> = OnceLock::new();

pub fn configure(settings: Settings) {
    let _ = SETTINGS.set(settings);
}

fn settings() -> Settings {
    *SETTINGS.get().unwrap_or(&Settings { mode: Mode::Adaptive, apigateway: APIGATEWAY })
}

/// Throttled answers per service so far, and the rate each was slowed to.
static THROTTLED: Mutex<Vec<(&'static str, u64, Option<f64>)>> = Mutex::new(Vec::new());
static THROTTLED_TOTAL: AtomicU64 = AtomicU64::new(0);

/// (service, throttled answers, the lowest rate a bucket of it was slowed to).
pub fn throttled() -> Vec<(&'static str, u64, Option<f64>)> {
    THROTTLED.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

fn note_throttled(service: &'static str, slowed_to: Option<f64>) {
    THROTTLED_TOTAL.fetch_add(1, Ordering::Relaxed);
    let mut all = THROTTLED.lock().unwrap_or_else(|p| p.into_inner());
    let i = match all.iter().position(|(s, _, _)| *s == service) {
        Some(i) => i,
        None => {
            all.push((service, 0, None));
            all.len() - 1
        }
    };
    all[i].1 += 1;
    if let Some(rate) = slowed_to {
        all[i].2 = Some(all[i].2.map_or(rate, |r: f64| r.min(rate)));
    }
}

/// The least a slowed bucket sends.
const MIN_RATE: f64 = 0.5;
/// A throttle answer cuts the rate to this share of it.
const CUT: f64 = 0.7;
/// Answers that come through raise the rate by this share of the rate it
/// was last cut from, a second.
const GROWTH: f64 = 0.05;

#[derive(Debug)]
struct State {
    tokens: f64,
    at: Instant,
    /// The rate now; `None` while an unpaced bucket has not been throttled.
    rate: Option<f64>,
    burst: f64,
    /// The rate it was last cut from: growth is measured in it, and a bucket
    /// of a service without a quota goes unpaced again at twice it.
    reference: f64,
    last_cut: Option<Instant>,
    last_growth: Instant,
    /// When the last requests went, while unpaced (to know what to cut from).
    recent: std::collections::VecDeque<Instant>,
}

#[derive(Debug)]
struct Bucket {
    quota: Option<Quota>,
    adaptive: bool,
    state: Mutex<State>,
}

impl Bucket {
    fn new(quota: Option<Quota>, adaptive: bool) -> Bucket {
        let now = Instant::now();
        let state = State {
            tokens: quota.map_or(0.0, |q| q.burst),
            at: now,
            rate: quota.map(|q| q.rate),
            burst: quota.map_or(1.0, |q| q.burst),
            reference: quota.map_or(0.0, |q| q.rate),
            last_cut: None,
            last_growth: now,
            recent: Default::default(),
        };
        Bucket { quota, adaptive, state: Mutex::new(state) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for a token: the burst at once, then one per 1/rate seconds.
    /// A caller reserves its token (the count may go below zero) and sleeps
    /// until its turn, so callers go in the order they came.
    async fn take(&self) {
        let wait = {
            let mut st = self.lock();
            let now = Instant::now();
            let Some(rate) = st.rate else {
                st.recent.push_back(now);
                while st.recent.front().is_some_and(|t| now.duration_since(*t) > Duration::from_secs(1)) {
                    st.recent.pop_front();
                }
                return;
            };
            st.tokens = (st.tokens + now.duration_since(st.at).as_secs_f64() * rate).min(st.burst) - 1.0;
            st.at = now;
            if st.tokens >= 0.0 {
                return;
            }
            Duration::from_secs_f64(-st.tokens / rate)
        };
        // A request given up before its turn (its attempt timed out, the run
        // was stopped) gives its turn back, so later ones do not wait for it.
        struct Turn<'a>(&'a Bucket, bool);
        impl Drop for Turn<'_> {
            fn drop(&mut self) {
                if !self.1 {
                    self.0.lock().tokens += 1.0;
                }
            }
        }
        let mut turn = Turn(self, false);
        tokio::time::sleep(wait).await;
        turn.1 = true;
    }

    /// An answer came back: throttled or not. Returns the rate it slowed to.
    fn answered(&self, throttled: bool) -> Option<f64> {
        if !self.adaptive {
            return None;
        }
        let mut st = self.lock();
        let now = Instant::now();
        // What the bucket earned so far, at the rate it had.
        if let Some(rate) = st.rate {
            st.tokens = (st.tokens + now.duration_since(st.at).as_secs_f64() * rate).min(st.burst);
            st.at = now;
        }
        if throttled {
            if st.last_cut.is_some_and(|t| now.duration_since(t) < Duration::from_secs(1)) {
                return None;
            }
            let from = st.rate.unwrap_or_else(|| st.recent.len().max(1) as f64);
            st.reference = from;
            let rate = (from * CUT).max(MIN_RATE);
            st.rate = Some(rate);
            st.tokens = st.tokens.min(0.0);
            st.at = now;
            st.burst = rate.max(1.0);
            st.last_cut = Some(now);
            st.last_growth = now;
            return Some(rate);
        }
        let Some(rate) = st.rate else { return None };
        let elapsed = now.duration_since(st.last_growth).as_secs_f64();
        st.last_growth = now;
        let grown = rate + GROWTH * st.reference * elapsed;
        match self.quota {
            Some(q) if grown >= q.rate => {
                st.rate = Some(q.rate);
                st.burst = q.burst;
            }
            Some(_) => {
                st.rate = Some(grown);
                st.burst = grown.max(1.0);
            }
            None if grown >= 2.0 * st.reference => {
                st.rate = None;
                st.recent.clear();
            }
            None => {
                st.rate = Some(grown);
                st.burst = grown.max(1.0);
            }
        }
        None
    }
}

/// The error codes with which AWS services turn a call away for its rate.
pub const THROTTLE_CODES: &[&str] = &["Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"];

/// Whether an answer of `service` says "slow down": 429, EC2's 503
/// (RequestLimitExceeded; elsewhere a 503 is an outage, not a rate), or a
/// JSON protocol's error type naming throttling. (A query-protocol 400 such
/// as IAM's `Throttling` names it only in its body, which the SDK's retries
/// handle alone.)
fn is_throttle(service: &str, status: u16, error_type: Option<&str>) -> bool {
    status == 429
        || (status == 503 && service == "ec2")
        || error_type.is_some_and(|t| {
            let t = t.split(':').next().unwrap_or(t);
            THROTTLE_CODES.contains(&t)
        })
}

/// How a service's requests are sorted into buckets.
#[derive(Debug, Clone, Copy)]
enum Buckets {
    /// One bucket for the account.
    One(Option<Quota>),
    /// API Gateway: one for the account, and for some operations one of
    /// their own too.
    ApiGateway(Quota),
    /// EC2: one per action, by the action's kind.
    Ec2,
}

#[derive(Debug)]
struct Pacer {
    service: &'static str,
    buckets: Buckets,
    adaptive: bool,
    by_key: Mutex<HashMap<String, Arc<Bucket>>>,
}

impl Pacer {
    /// The bucket a request takes its token from, and the bucket of its
    /// operation's own quota when it has one (taken from too, at that fixed
    /// quota: a throttle answer then slows neither, since AWS may have
    /// answered for the operation's quota alone).
    fn buckets(&self, request: &HttpRequest) -> (Arc<Bucket>, Option<Arc<Bucket>>) {
        let (key, quota, own) = match self.buckets {
            Buckets::One(quota) => (String::new(), quota, None),
            Buckets::ApiGateway(quota) => (String::new(), Some(quota), apigateway_operation(request.method(), request.uri())),
            Buckets::Ec2 => {
                let action = request
                    .body()
                    .bytes()
                    .and_then(|b| std::str::from_utf8(b).ok())
                    .and_then(|form| form.split('&').find_map(|kv| kv.strip_prefix("Action=")))
                    .unwrap_or("")
                    .to_string();
                let reads = ["Describe", "Get", "List"].iter().any(|p| action.starts_with(p));
                (action, Some(if reads { EC2_NON_MUTATING } else { EC2_MUTATING }), None)
            }
        };
        let mut all = self.by_key.lock().unwrap_or_else(|p| p.into_inner());
        let service = all.entry(key).or_insert_with(|| Arc::new(Bucket::new(quota, self.adaptive))).clone();
        let own = own.map(|(name, quota)| all.entry(name.to_string()).or_insert_with(|| Arc::new(Bucket::new(Some(quota), false))).clone());
        (service, own)
    }
}

#[derive(Debug)]
struct Paced {
    inner: SharedHttpConnector,
    pacer: Arc<Pacer>,
}

impl HttpConnector for Paced {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (inner, pacer) = (self.inner.clone(), self.pacer.clone());
        let (bucket, own) = pacer.buckets(&request);
        HttpConnectorFuture::new(async move {
            if let Some(own) = &own {
                own.take().await;
            }
            bucket.take().await;
            let response = inner.call(request).await?;
            let error_type = response.headers().get("x-amzn-errortype");
            let throttled = is_throttle(pacer.service, response.status().as_u16(), error_type);
            let slowed = match own {
                Some(_) => None,
                None => bucket.answered(throttled),
            };
            if throttled {
                note_throttled(pacer.service, slowed);
            }
            Ok(response)
        })
    }
}

/// The HTTPS client for `service` (its signing name: `apigateway`, `ec2`,
/// …), paced as the settings say; `None` when nothing paces it (the SDK's
/// own default client is used then).
pub fn paced_client(service: &'static str) -> Option<SharedHttpClient> {
    let settings = settings();
    let buckets = match (settings.mode, service) {
        (Mode::Off, _) => return None,
        (_, "apigateway") if settings.apigateway.rate <= 0.0 || settings.apigateway.burst < 1.0 => return None,
        (_, "apigateway") => Buckets::ApiGateway(settings.apigateway),
        (_, "ec2") => Buckets::Ec2,
        (Mode::Fixed, _) => return None,
        (Mode::Adaptive, _) => Buckets::One(None),
    };
    use aws_smithy_http_client::tls;
    let inner = aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc)).build_https();
    let pacer = Arc::new(Pacer { service, buckets, adaptive: settings.mode == Mode::Adaptive, by_key: Mutex::new(HashMap::new()) });
    Some(http_client_fn(move |settings, components| SharedHttpConnector::new(Paced { inner: inner.http_connector(settings, components), pacer: pacer.clone() })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_gateway_operations_with_a_quota_of_their_own_are_recognised() {
        let op = |m: &str, u: &str| apigateway_operation(m, u).map(|(name, q)| (name, (1.0 / q.rate).round() as u64, q.burst));
        assert_eq!(op("POST", "https://apigateway.us-east-1.amazonaws.com/v2/vpclinks"), Some(("CreateVpcLink", 16, 1.0)));
        assert_eq!(op("DELETE", "http://127.0.0.1:5000/v2/vpclinks/abc123"), Some(("DeleteVpcLink", 31, 1.0)));
        assert_eq!(op("POST", "https://apigateway.us-east-1.amazonaws.com/v2/apis/a1b2/deployments"), Some(("CreateDeployment", 6, 1.0)));
        assert_eq!(op("GET", "https://apigateway.us-east-1.amazonaws.com/v2/vpclinks/abc123"), None);
        assert_eq!(op("POST", "https://apigateway.us-east-1.amazonaws.com/v2/apis/a1b2/routes"), None);
        assert_eq!(op("DELETE", "https://apigateway.us-east-1.amazonaws.com/v2/apis/a1b2/deployments/d1"), None);
    }

    #[tokio::test]
    async fn a_bucket_lets_the_burst_through_then_the_rate() {
        let bucket = Bucket::new(Some(Quota { rate: 50.0, burst: 4.0 }), false);
        let start = Instant::now();
        for _ in 0..4 {
            bucket.take().await;
        }
        assert!(start.elapsed() < Duration::from_millis(15), "the burst is immediate: {:?}", start.elapsed());
        for _ in 0..10 {
            bucket.take().await;
        }
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(195) && took <= Duration::from_millis(450), "ten more at 50/s take 0.2 s: {took:?}");
    }

    #[tokio::test]
    async fn a_request_given_up_before_its_turn_gives_the_turn_back() {
        let bucket = Arc::new(Bucket::new(Some(Quota { rate: 2.0, burst: 1.0 }), false));
        bucket.take().await;
        let gave_up = tokio::time::timeout(Duration::from_millis(50), bucket.take()).await;
        assert!(gave_up.is_err(), "it had to wait its turn");
        let start = Instant::now();
        bucket.take().await;
        let took = start.elapsed();
        assert!(took <= Duration::from_millis(520), "the next one takes the turn given back, not the one after: {took:?}");
    }

    #[tokio::test]
    async fn callers_waiting_for_tokens_go_in_the_order_they_came() {
        let bucket = Arc::new(Bucket::new(Some(Quota { rate: 20.0, burst: 1.0 }), false));
        bucket.take().await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let waiters: Vec<_> = (0..5)
            .map(|i| {
                let (bucket, order) = (bucket.clone(), order.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(i * 2)).await;
                    bucket.take().await;
                    order.lock().unwrap().push(i);
                })
            })
            .collect();
        for w in waiters {
            w.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4]);
    }

    #[tokio::test]
    async fn a_throttle_answer_slows_the_bucket_once_a_second_and_it_grows_back() {
        let bucket = Bucket::new(Some(Quota { rate: 10.0, burst: 40.0 }), true);
        assert_eq!(bucket.answered(true), Some(7.0));
        // The answers to requests already in flight do not cut it again.
        assert_eq!(bucket.answered(true), None);
        assert_eq!(bucket.lock().rate, Some(7.0));
        // No burst after a throttle: the next tokens come at the new rate.
        let start = Instant::now();
        for _ in 0..3 {
            bucket.take().await;
        }
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(400) && took <= Duration::from_millis(700), "three at 7/s from empty: {took:?}");
        // Answers that come through raise it by 0.5/s a second, to the quota.
        bucket.lock().last_growth = Instant::now() - Duration::from_secs(2);
        bucket.answered(false);
        let rate = bucket.lock().rate.unwrap();
        assert!((7.99..8.05).contains(&rate), "{rate}");
        bucket.lock().last_growth -= Duration::from_secs(60);
        bucket.answered(false);
        let st = bucket.lock();
        assert_eq!((st.rate, st.burst), (Some(10.0), 40.0));
        drop(st);
        // A fixed bucket never changes.
        let fixed = Bucket::new(Some(Quota { rate: 10.0, burst: 40.0 }), false);
        assert_eq!(fixed.answered(true), None);
        assert_eq!(fixed.lock().rate, Some(10.0));
    }

    #[tokio::test]
    async fn an_unpaced_bucket_paces_from_its_first_throttle_and_lets_go_later() {
        let bucket = Bucket::new(None, true);
        for _ in 0..20 {
            bucket.take().await;
        }
        assert_eq!(bucket.lock().rate, None);
        // 20 requests in the last second: paced at 14/s from now.
        assert_eq!(bucket.answered(true), Some(14.0));
        bucket.lock().last_growth -= Duration::from_secs(60);
        bucket.answered(false);
        assert_eq!(bucket.lock().rate, None, "back to unpaced once well past the rate it was cut from");
    }

    #[test]
    fn throttle_answers_are_recognised_by_status_and_error_type() {
        assert!(is_throttle("apigateway", 429, None));
        assert!(is_throttle("ec2", 503, None));
        assert!(!is_throttle("logs", 503, None), "an outage is not a rate");
        assert!(is_throttle("cognito-idp", 400, Some("ThrottlingException")));
        assert!(is_throttle("apigateway", 400, Some("TooManyRequestsException:http://internal.amazon.com/coral/")));
        assert!(!is_throttle("apigateway", 400, Some("ResourceNotFoundException")));
        assert!(!is_throttle("ec2", 200, None));
    }
}
