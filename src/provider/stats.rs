//! Counts of AWS calls per service and operation, and the time spent waiting
//! on AWS (wall time with at least one call in flight) against the time in
//! gwctl itself. Recorded by an SDK interceptor on every client.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

/// Whether each call is logged as it completes (`-vv` or `GWCTL_LOG`).
static LOG_CALLS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn log_calls(on: bool) {
    LOG_CALLS.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Whether calls are logged: then failed calls are too, in full.
pub fn logging() -> bool {
    LOG_CALLS.load(std::sync::atomic::Ordering::Relaxed)
}

#[derive(Debug, Clone, Copy)]
struct Started(Instant);

impl Storable for Started {
    type Storer = StoreReplace<Self>;
}

#[derive(Debug, Default)]
struct Data {
    /// (service, operation) → HTTP attempts, retries included.
    calls: BTreeMap<(String, String), u64>,
    in_flight: usize,
    busy_since: Option<Instant>,
    busy: Duration,
}

static DATA: Mutex<Option<Data>> = Mutex::new(None);

fn with<R>(f: impl FnOnce(&mut Data) -> R) -> R {
    let mut guard = DATA.lock().unwrap_or_else(|p| p.into_inner());
    f(guard.get_or_insert_with(Data::default))
}

/// The interceptor every client carries.
#[derive(Debug, Clone, Copy, Default)]
pub struct Recorder;

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "gwctl-stats"
    }

    fn read_before_execution(&self, _: &BeforeSerializationInterceptorContextRef<'_>, cfg: &mut ConfigBag) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(Started(Instant::now()));
        with(|d| {
            if d.in_flight == 0 {
                d.busy_since = Some(Instant::now());
            }
            d.in_flight += 1;
        });
        Ok(())
    }

    fn read_before_transmit(&self, _: &BeforeTransmitInterceptorContextRef<'_>, _: &RuntimeComponents, cfg: &mut ConfigBag) -> Result<(), BoxError> {
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_string(), m.name().to_string()))
            .unwrap_or_else(|| ("unknown".into(), "unknown".into()));
        with(|d| *d.calls.entry((service, operation)).or_default() += 1);
        Ok(())
    }

    fn read_after_execution(&self, ctx: &FinalizerInterceptorContextRef<'_>, _: &RuntimeComponents, cfg: &mut ConfigBag) -> Result<(), BoxError> {
        if LOG_CALLS.load(std::sync::atomic::Ordering::Relaxed) {
            let (service, operation) = cfg.load::<Metadata>().map(|m| (m.service(), m.name())).unwrap_or(("unknown", "unknown"));
            let ms = cfg.load::<Started>().map(|s| s.0.elapsed().as_millis()).unwrap_or_default();
            let response = ctx.response();
            let status = response.map(|r| r.status().as_u16().to_string()).unwrap_or_else(|| "no response".into());
            let request_id = response
                .and_then(|r| r.headers().get("x-amzn-requestid").or_else(|| r.headers().get("x-amz-request-id")))
                .unwrap_or("-");
            eprintln!("aws {service} {operation}: {status} in {ms} ms, request id {request_id}");
        }
        with(|d| {
            d.in_flight = d.in_flight.saturating_sub(1);
            if d.in_flight == 0 {
                if let Some(since) = d.busy_since.take() {
                    d.busy += since.elapsed();
                }
            }
        });
        Ok(())
    }
}

/// What was recorded so far.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub calls: BTreeMap<(String, String), u64>,
    pub waiting: Duration,
}

impl Snapshot {
    pub fn total(&self) -> u64 {
        self.calls.values().sum()
    }
}

pub fn snapshot() -> Snapshot {
    with(|d| {
        let open = d.busy_since.map(|s| s.elapsed()).unwrap_or_default();
        Snapshot { calls: d.calls.clone(), waiting: d.busy + open }
    })
}

/// The `--stats` report: calls per service and operation, and where the time went.
pub fn render(s: &Snapshot, total: Duration) -> String {
    let mut out = format!(
        "AWS calls: {} in {:.2}s: {:.2}s waiting on AWS, {:.2}s in gwctl\n",
        s.total(),
        total.as_secs_f64(),
        s.waiting.as_secs_f64(),
        total.saturating_sub(s.waiting).as_secs_f64()
    );
    let mut by_service: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for ((service, op), n) in &s.calls {
        by_service.entry(service).or_default().push(format!("{op} {n}"));
    }
    let width = by_service.keys().map(|k| k.len()).max().unwrap_or(0);
    for (service, ops) in by_service {
        out.push_str(&format!("  {service:width$}  {}\n", ops.join(", ")));
    }
    out
}
