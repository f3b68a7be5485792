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
    /// When each operation was started and finished (its retries within).
    spans: Vec<(Instant, Instant)>,
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
        let started = cfg.load::<Started>().map(|s| s.0);
        with(|d| {
            if let Some(started) = started {
                d.spans.push((started, Instant::now()));
            }
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
    /// The longest chain of calls each made after the one before it had
    /// answered: how many round trips of latency a run waited out at least.
    pub round_trips: usize,
}

impl Snapshot {
    pub fn total(&self) -> u64 {
        self.calls.values().sum()
    }
}

pub fn snapshot() -> Snapshot {
    with(|d| {
        let open = d.busy_since.map(|s| s.elapsed()).unwrap_or_default();
        Snapshot { calls: d.calls.clone(), waiting: d.busy + open, round_trips: round_trips(&d.spans) }
    })
}

/// The longest chain of spans in which each starts after the previous ended.
fn round_trips(spans: &[(Instant, Instant)]) -> usize {
    let mut by_start: Vec<&(Instant, Instant)> = spans.iter().collect();
    by_start.sort_by_key(|s| s.0);
    // depth[i]: the longest chain ending with span i.
    let mut depth = vec![0usize; by_start.len()];
    for i in 0..by_start.len() {
        let before = (0..i).filter(|&j| by_start[j].1 <= by_start[i].0).map(|j| depth[j]).max().unwrap_or(0);
        depth[i] = before + 1;
    }
    depth.into_iter().max().unwrap_or(0)
}

/// The `--stats` report: calls per service and operation, and where the time went.
pub fn render(s: &Snapshot, total: Duration) -> String {
    let mut out = format!(
        "AWS calls: {} in {:.2}s, {} round trip{} deep: {:.2}s waiting on AWS, {:.2}s in gwctl\n",
        s.total(),
        total.as_secs_f64(),
        s.round_trips,
        if s.round_trips == 1 { "" } else { "s" },
        s.waiting.as_secs_f64(),
        total.saturating_sub(s.waiting).as_secs_f64()
    );
    for (service, answers, slowed_to) in crate::provider::pace::throttled() {
        let slowed = slowed_to.map(|r| format!("; paced down to {r:.1} requests/s")).unwrap_or_default();
        out.push_str(&format!("Throttled by {service}: {answers} answer{}{slowed}\n", if answers == 1 { "" } else { "s" }));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_count_calls_that_waited_for_an_answer() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert_eq!(round_trips(&[]), 0);
        // Three calls at once: one round trip.
        assert_eq!(round_trips(&[(at(0), at(20)), (at(1), at(25)), (at(2), at(30))]), 1);
        // A call made after the first answered, beside a slow one: two.
        assert_eq!(round_trips(&[(at(0), at(20)), (at(1), at(60)), (at(21), at(40))]), 2);
        // A chain of three, however they overlap with others.
        assert_eq!(round_trips(&[(at(40), at(60)), (at(0), at(20)), (at(20), at(40)), (at(5), at(70))]), 3);
    }
}
