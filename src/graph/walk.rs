//! The concurrent graph walk, independent of what a step does.
//!
//! Guarantees:
//! - A step starts only after every step it waits for has succeeded.
//! - Every step whose waits are met starts at once, up to `parallelism`.
//! - A failed step skips the steps that wait on it, transitively, and nothing else.
//! - A fatal step (the state could not be saved) stops new starts; steps in
//!   flight finish.
//! - When `interrupt` resolves, nothing new starts; steps in flight finish.
//! - A step that never became ready without a failure behind it (a cycle) is
//!   reported, never silently dropped.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepResult {
    Done,
    Failed,
    /// Failed in a way that must stop the whole walk.
    Fatal,
}

/// When a step ran, relative to the start of the walk.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    pub start: Duration,
    pub end: Duration,
}

#[derive(Debug, Default)]
pub struct Report {
    pub timings: Vec<Option<Timing>>,
    pub results: Vec<Option<StepResult>>,
    /// (skipped step, the failed step behind it)
    pub skipped: Vec<(usize, usize)>,
    /// Steps whose waits could never be met by steps that ran (a cycle).
    pub never_ready: Vec<usize>,
    /// Steps not started because of an interrupt or a fatal step.
    pub not_started: Vec<usize>,
    pub interrupted: bool,
    pub elapsed: Duration,
}

/// Walks steps `0..waits.len()`, step `i` after every step in `waits[i]`.
pub async fn walk<F, Fut, I>(waits: &[Vec<usize>], parallelism: usize, interrupt: I, mut on_interrupt: impl FnMut(usize), run: F) -> Report
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = StepResult>,
    I: Future<Output = ()>,
{
    let n = waits.len();
    let began = Instant::now();
    let mut report = Report { timings: vec![None; n], results: vec![None; n], ..Report::default() };
    let mut remaining: Vec<usize> = waits.iter().map(Vec::len).collect();
    let mut dependents: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, ws) in waits.iter().enumerate() {
        for &w in ws {
            dependents.entry(w).or_default().push(i);
        }
    }
    let mut ready: Vec<usize> = (0..n).rev().filter(|&i| remaining[i] == 0).collect();
    let mut blocked: HashSet<usize> = HashSet::new();
    let mut running = FuturesUnordered::new();
    let mut stop = false;
    tokio::pin!(interrupt);
    loop {
        while !stop && running.len() < parallelism.max(1) {
            let Some(i) = ready.pop() else { break };
            let step = run(i);
            running.push(async move {
                let start = began.elapsed();
                let result = step.await;
                (i, result, Timing { start, end: began.elapsed() })
            });
        }
        let next = tokio::select! {
            next = running.next() => next,
            _ = &mut interrupt, if !report.interrupted => {
                report.interrupted = true;
                stop = true;
                on_interrupt(running.len());
                continue;
            }
        };
        let Some((i, result, timing)) = next else { break };
        report.timings[i] = Some(timing);
        report.results[i] = Some(result);
        match result {
            StepResult::Done => {
                for &d in dependents.get(&i).into_iter().flatten() {
                    remaining[d] -= 1;
                    if remaining[d] == 0 && !blocked.contains(&d) {
                        ready.push(d);
                    }
                }
            }
            StepResult::Failed | StepResult::Fatal => {
                stop |= result == StepResult::Fatal;
                let mut stack = vec![i];
                while let Some(f) = stack.pop() {
                    for &d in dependents.get(&f).into_iter().flatten() {
                        if blocked.insert(d) {
                            report.skipped.push((d, i));
                            stack.push(d);
                        }
                    }
                }
            }
        }
    }
    for i in 0..n {
        if report.results[i].is_some() || blocked.contains(&i) {
            continue;
        }
        if stop {
            report.not_started.push(i);
        } else {
            report.never_ready.push(i);
        }
    }
    report.elapsed = began.elapsed();
    report
}

impl Report {
    /// The longest chain of dependent steps, by their measured durations: the
    /// least time any schedule could take for this graph.
    pub fn critical_path(&self, waits: &[Vec<usize>]) -> Duration {
        fn longest(i: usize, waits: &[Vec<usize>], t: &[Option<Timing>], memo: &mut Vec<Option<Duration>>, depth: usize) -> Duration {
            if let Some(d) = memo[i] {
                return d;
            }
            let own = t[i].map(|t| t.end.saturating_sub(t.start)).unwrap_or_default();
            let before = if depth > waits.len() {
                Duration::ZERO
            } else {
                waits[i].iter().map(|&w| longest(w, waits, t, memo, depth + 1)).max().unwrap_or_default()
            };
            memo[i] = Some(own + before);
            own + before
        }
        let mut memo = vec![None; waits.len()];
        (0..waits.len()).map(|i| longest(i, waits, &self.timings, &mut memo, 0)).max().unwrap_or_default()
    }
}

impl Report {
    /// The least time any schedule with `parallelism` workers could take:
    /// the critical path, or all the work spread evenly, whichever is longer.
    pub fn lower_bound(&self, waits: &[Vec<usize>], parallelism: usize) -> Duration {
        let work: Duration = self.timings.iter().flatten().map(|t| t.end.saturating_sub(t.start)).sum();
        self.critical_path(waits).max(work / parallelism.max(1) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn never() -> std::future::Pending<()> {
        std::future::pending()
    }

    /// Runs a walk where step i sleeps `ms[i]` and fails when listed in `fail`.
    async fn run(waits: &[Vec<usize>], ms: &[u64], fail: &[usize], parallelism: usize) -> Report {
        let log = Mutex::new(Vec::new());
        let report = walk(waits, parallelism, never(), |_| {}, |i| {
            let log = &log;
            async move {
                log.lock().unwrap().push(i);
                tokio::time::sleep(Duration::from_millis(ms[i])).await;
                if fail.contains(&i) { StepResult::Failed } else { StepResult::Done }
            }
        })
        .await;
        report
    }

    #[tokio::test]
    async fn a_dependent_never_starts_before_its_dependency_finishes() {
        // 0 -> 1 -> 3, 0 -> 2 -> 3, 4 alone
        let waits = vec![vec![], vec![0], vec![0], vec![1, 2], vec![]];
        let r = run(&waits, &[30, 20, 40, 10, 50], &[], 10).await;
        let t = |i: usize| r.timings[i].unwrap();
        for (i, ws) in waits.iter().enumerate() {
            for &w in ws {
                assert!(t(i).start >= t(w).end, "step {i} started before {w} ended");
            }
        }
        // Independent steps ran concurrently: 4 started with 0.
        assert!(t(4).start < t(0).end);
        assert!(r.never_ready.is_empty() && r.skipped.is_empty());
    }

    #[tokio::test]
    async fn a_failure_skips_its_dependents_and_nothing_else() {
        let waits = vec![vec![], vec![0], vec![1], vec![], vec![3]];
        let r = run(&waits, &[5, 5, 5, 5, 5], &[0], 10).await;
        let skipped: Vec<usize> = r.skipped.iter().map(|s| s.0).collect();
        assert_eq!(skipped, vec![1, 2]);
        assert_eq!(r.results[3], Some(StepResult::Done));
        assert_eq!(r.results[4], Some(StepResult::Done));
        assert_eq!(r.results[1], None);
    }

    #[tokio::test]
    async fn parallelism_bounds_steps_in_flight() {
        let waits = vec![vec![]; 6];
        let r = run(&waits, &[20; 6], &[], 2).await;
        for at in r.timings.iter().map(|t| t.unwrap().start) {
            let in_flight = r.timings.iter().filter(|t| { let t = t.unwrap(); t.start <= at && at < t.end }).count();
            assert!(in_flight <= 2, "{in_flight} in flight");
        }
    }

    #[tokio::test]
    async fn a_cycle_is_reported_not_dropped() {
        let waits = vec![vec![], vec![2], vec![1]];
        let r = run(&waits, &[1, 1, 1], &[], 4).await;
        assert_eq!(r.never_ready, vec![1, 2]);
    }

    #[tokio::test]
    async fn the_critical_path_follows_the_longest_chain() {
        let waits = vec![vec![], vec![0], vec![], vec![1, 2]];
        let r = run(&waits, &[30, 30, 10, 30], &[], 10).await;
        let cp = r.critical_path(&waits);
        assert!(cp >= Duration::from_millis(90) && cp < Duration::from_millis(200), "{cp:?}");
        assert!(r.elapsed >= cp.mul_f64(0.95));
    }
}
