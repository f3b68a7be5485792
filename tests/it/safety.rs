//! Nothing lost, nothing duplicated: SIGKILL at many points of an apply and a
//! destroy, SIGINT, AWS faults per operation, a resource that keeps failing,
//! two concurrent applies, and a state replaced underneath an apply. Every
//! outcome is counted in the emulator with the SDK.


use std::process::Stdio;
use std::time::Duration;

use aws_sdk_ec2::types::Filter;
use crate::common::*;
use serde_json::json;

/// The seed stack under another project name, so several share one emulator.
pub(crate) fn project_spec(project: &str) -> String {
    public_seed_spec().replace("job-work-planner", project)
}

pub(crate) fn state_path(w: &Workdir, project: &str) -> std::path::PathBuf {
    w.path().join(format!("state/{project}.json"))
}

/// Runs `args` after a SIGKILL: a lock the killed run left names a dead
/// process of this host, and is taken over with a warning, no human step.
fn run_after_kill(w: &Workdir, project: &str, args: &[&str]) -> Run {
    let lock = w.path().join(format!("state/{project}.json.lock"));
    let left = std::fs::read_to_string(&lock).ok();
    if left.is_some() {
        let plan = w.run(&["plan"]);
        assert_ne!(plan.code, 1, "plan takes no lock: {}", plan.stderr);
    }
    let run = w.run(args);
    if let Some(text) = left {
        let info: serde_json::Value = serde_json::from_str(&text).expect("lock JSON");
        let id = info["id"].as_str().unwrap();
        assert!(run.stderr.contains(&format!("took over the state lock {id}")), "the dead holder's lock is taken over: {}", run.stderr);
    }
    assert!(!lock.exists(), "the lock is released after the run");
    run
}

#[derive(Debug, PartialEq)]
pub(crate) struct Count {
    instances: usize,
    groups: usize,
    roles: usize,
    profiles: usize,
    pub(crate) log_groups: usize,
    apis: usize,
    routes: usize,
    integrations: usize,
    authorizers: usize,
    stages: usize,
}

pub(crate) async fn count(sdk: &Sdk, project: &str) -> Count {
    let live = sdk
        .ec2
        .describe_instances()
        .filters(Filter::builder().name("tag:gwctl:project").values(project).build())
        .filters(Filter::builder().name("instance-state-name").values("pending").values("running").values("stopping").values("stopped").build())
        .send()
        .await
        .unwrap();
    let instances = live.reservations().iter().map(|r| r.instances().len()).sum();
    let groups = sdk
        .ec2
        .describe_security_groups()
        .filters(Filter::builder().name("group-name").values(format!("{project}-backend")).build())
        .send()
        .await
        .unwrap()
        .security_groups()
        .len();
    let roles = usize::from(sdk.iam.get_role().role_name(format!("{project}-backend")).send().await.is_ok());
    let profiles = usize::from(sdk.iam.get_instance_profile().instance_profile_name(format!("{project}-backend")).send().await.is_ok());
    let log_groups = sdk
        .logs
        .describe_log_groups()
        .log_group_name_prefix(format!("/aws/vendedlogs/apigateway/{project}"))
        .send()
        .await
        .unwrap()
        .log_groups()
        .len();
    let all = sdk.apigw.get_apis().send().await.unwrap();
    let apis: Vec<String> = all.items().iter().filter(|a| a.name() == Some(project)).filter_map(|a| a.api_id().map(str::to_string)).collect();
    let (mut routes, mut integrations, mut authorizers, mut stages) = (0, 0, 0, 0);
    for api in &apis {
        let mut token = None;
        loop {
            let page = sdk.apigw.get_routes().api_id(api).set_next_token(token).send().await.unwrap();
            routes += page.items().len();
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        integrations += sdk.apigw.get_integrations().api_id(api).send().await.unwrap().items().len();
        authorizers += sdk.apigw.get_authorizers().api_id(api).send().await.unwrap().items().len();
        stages += sdk.apigw.get_stages().api_id(api).send().await.unwrap().items().len();
    }
    Count { instances, groups, roles, profiles, log_groups, apis: apis.len(), routes, integrations, authorizers, stages }
}

pub(crate) const ONE_OF_EACH: Count =
    Count { instances: 1, groups: 1, roles: 1, profiles: 1, log_groups: 1, apis: 1, routes: 6, integrations: 1, authorizers: 1, stages: 1 };
pub(crate) const NOTHING: Count =
    Count { instances: 0, groups: 0, roles: 0, profiles: 0, log_groups: 0, apis: 0, routes: 0, integrations: 0, authorizers: 0, stages: 0 };
/// What `destroy` leaves of the seed stack: the access-log group (retain_on_destroy).
pub(crate) const KEPT: Count = Count { log_groups: 1, ..NOTHING };

/// Starts `gwctl args`, kills it with SIGKILL after `delay`, and waits for it.
fn kill_after(w: &Workdir, args: &[&str], delay: Duration) {
    let mut child = w.command(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn gwctl");
    std::thread::sleep(delay);
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_killed_at_any_moment_converges_to_exactly_one_of_everything() {
    let emu = Emulator::start();
    emu.configure(json!({"latency_ms": 20}));
    let sdk = emu.sdk().await;
    for (n, ms) in [60u64, 150, 250, 350, 450, 550, 700, 850, 1000, 1200, 1500, 1900].into_iter().enumerate() {
        let project = format!("kill{n}");
        let w = Workdir::new(&emu, &project_spec(&project));
        kill_after(&w, &["apply", "--auto-approve"], Duration::from_millis(ms));
        // Whatever was written is a whole state file.
        if let Ok(text) = std::fs::read_to_string(state_path(&w, &project)) {
            serde_json::from_str::<serde_json::Value>(&text).unwrap_or_else(|e| panic!("killed at {ms} ms: state is not JSON: {e}"));
        }
        let run = run_after_kill(&w, &project, &["apply", "--auto-approve"]);
        assert_eq!(run.code, 0, "killed at {ms} ms, the next apply: {}\n{}", run.stdout, run.stderr);
        assert_eq!(count(&sdk, &project).await, ONE_OF_EACH, "killed at {ms} ms");
        let plan = w.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(plan.code, 0, "killed at {ms} ms: {}", plan.stdout);
        let drift = w.run(&["drift"]);
        assert_eq!(drift.code, 0, "killed at {ms} ms, nothing unmanaged is left: {}", drift.stdout);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn destroy_killed_at_any_moment_finishes_on_the_next_destroy() {
    let emu = Emulator::start();
    emu.configure(json!({"latency_ms": 20}));
    let sdk = emu.sdk().await;
    for (n, ms) in [50u64, 150, 300, 450, 600, 800, 1000].into_iter().enumerate() {
        let project = format!("gone{n}");
        let w = Workdir::new(&emu, &project_spec(&project));
        w.expect(&["apply", "--auto-approve"], 0);
        kill_after(&w, &["destroy", "--auto-approve"], Duration::from_millis(ms));
        let run = run_after_kill(&w, &project, &["destroy", "--auto-approve"]);
        assert_eq!(run.code, 0, "killed at {ms} ms, the next destroy: {}\n{}", run.stdout, run.stderr);
        assert_eq!(count(&sdk, &project).await, KEPT, "killed at {ms} ms");
        let state: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(state_path(&w, &project)).unwrap()).unwrap();
        assert_eq!(state["resources"], json!([]));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_lets_operations_in_flight_finish_saves_and_exits_130() {
    let emu = Emulator::start();
    emu.configure(json!({"latency_ms": 60}));
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &public_seed_spec());
    let child = w.command(&["apply", "--auto-approve"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // Interrupt once the first resources are recorded.
    assert!(wait_until(Duration::from_secs(20), || w.state_path().exists()));
    std::thread::sleep(Duration::from_millis(150));
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let out = Run::from(child.wait_with_output().unwrap());
    assert_eq!(out.code, 130, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("Interrupted: starting nothing new"), "{}", out.stdout);
    assert!(out.stdout.contains("Apply interrupted after"), "{}", out.stdout);
    assert!(out.stdout.contains("not started:"), "{}", out.stdout);
    assert!(!w.path().join("state/job-work-planner.json.lock").exists(), "the lock is released");
    // What the state records exists, and nothing else does yet.
    let recorded = w.state()["resources"].as_array().unwrap().len();
    assert!(recorded > 0 && recorded < 15, "some but not all resources were made: {recorded}");
    w.expect(&["apply", "--auto-approve"], 0);
    assert_eq!(count(&sdk, "job-work-planner").await, ONE_OF_EACH);
}

#[tokio::test]
async fn throttling_5xx_and_dropped_connections_are_retried() {
    let emu = Emulator::start();
    emu.configure(json!({"faults": [
        {"operation": "ec2:RunInstances", "error": "throttle", "count": 3},
        {"operation": "ec2:CreateSecurityGroup", "error": "5xx", "count": 2},
        {"operation": "iam:CreateRole", "error": "reset-after", "count": 1},
        {"operation": "iam:AttachRolePolicy", "error": "throttle", "count": 2},
        {"operation": "logs:CreateLogGroup", "error": "throttle", "count": 2},
        {"operation": "apigateway:POST /v2/apis", "error": "reset-after", "count": 2},
        {"operation": "apigateway:POST /v2/apis/{id}/routes", "error": "5xx", "count": 3},
        {"operation": "apigateway:GET /v2/apis/{id}/stages", "error": "reset", "count": 1}
    ]}));
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &public_seed_spec());
    let run = w.expect(&["apply", "--auto-approve", "--stats"], 0);
    assert!(run.stdout.contains("15 added"), "{}", run.stdout);
    // The pacer knows each protocol's throttle answer as AWS gives it: EC2's
    // 503 RequestLimitExceeded and a JSON 400 ThrottlingException slow their
    // service; a 5xx from API Gateway is an outage, not a rate. (IAM's query
    // 400 names it only in the body, which the SDK's retries handle.)
    assert!(run.stderr.contains("Throttled by ec2: 3 answers; paced down to"), "{}", run.stderr);
    assert!(run.stderr.contains("Throttled by logs: 2 answers; paced down to"), "{}", run.stderr);
    assert!(!run.stderr.contains("Throttled by apigateway") && !run.stderr.contains("Throttled by iam"), "{}", run.stderr);
    let calls = emu.calls();
    assert!(calls["by_operation"]["ec2:RunInstances"].as_u64().unwrap() >= 4, "{calls}");
    // The lost CreateApi answer is followed by a lookup that finds the API.
    assert_eq!(calls["by_operation"]["apigateway:POST /v2/apis"].as_u64(), Some(1), "{calls}");
    assert!(calls["by_operation"]["apigateway:GET /v2/apis"].as_u64().unwrap() >= 2, "{calls}");
    assert_eq!(calls["by_operation"]["iam:CreateRole"].as_u64(), Some(2), "the retried CreateRole found the role: {calls}");
    assert_eq!(count(&sdk, "job-work-planner").await, ONE_OF_EACH, "a lost answer to CreateApi or CreateRole made no second one");
    w.expect(&["plan", "--detailed-exitcode"], 0);
}

#[tokio::test]
async fn a_resource_that_keeps_failing_fails_alone() {
    let emu = Emulator::start();
    emu.configure(json!({"faults": [{"operation": "apigateway:POST /v2/apis/{id}/integrations", "error": "5xx", "count": 1000}]}));
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &public_seed_spec());
    let run = w.expect(&["apply", "--auto-approve"], 1);
    assert!(run.stderr.contains("integration.main"), "{}", run.stderr);
    assert!(run.stdout.contains("route.main[\"GET /health\"]: skipped (integration.main failed)"), "{}", run.stdout);
    // Independent branches completed; the state records exactly what exists.
    let state = w.state();
    let recorded: Vec<&str> = state["resources"].as_array().unwrap().iter().map(|r| r["address"].as_str().unwrap()).collect();
    for done in ["instance.backend", "stage.main", "authorizer.main.cognito", "log_group.api_access", "api.main"] {
        assert!(recorded.contains(&done), "{done} missing from {recorded:?}");
    }
    assert!(!recorded.iter().any(|a| a.starts_with("route.") || a.starts_with("integration.")));
    let api = w.id_of("api.main");
    assert!(sdk.apigw.get_routes().api_id(&api).send().await.unwrap().items().is_empty());
    // The next apply picks up from there.
    emu.configure(json!({"faults": []}));
    let plan = w.plan_json();
    assert_eq!(plan["summary"]["create"], 7, "{plan}");
    w.expect(&["apply", "--auto-approve"], 0);
    assert_eq!(count(&sdk, "job-work-planner").await, ONE_OF_EACH);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_concurrent_applies_one_wins_the_other_names_it() {
    let emu = Emulator::start();
    emu.configure(json!({"latency_ms": 20}));
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &public_seed_spec());
    let first = w.command(&["apply", "--auto-approve"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    assert!(wait_until(Duration::from_secs(10), || w.path().join("state/job-work-planner.json.lock").exists()));
    let second = w.run(&["apply", "--auto-approve"]);
    assert_eq!(second.code, 1);
    assert!(second.stderr.contains(&format!("state is locked by `gwctl apply` (pid {}", first.id())), "{}", second.stderr);
    // plan and drift neither block nor are blocked.
    assert_ne!(w.run(&["plan"]).code, 1);
    let first = Run::from(first.wait_with_output().unwrap());
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(count(&sdk, "job-work-planner").await, ONE_OF_EACH);
    // --lock-timeout waits for the holder instead of failing.
    let holder = w.command(&["destroy", "--auto-approve"]).stdout(Stdio::null()).spawn().unwrap();
    assert!(wait_until(Duration::from_secs(10), || w.path().join("state/job-work-planner.json.lock").exists()));
    let waited = w.run(&["apply", "--auto-approve", "--lock-timeout", "60s"]);
    assert_eq!(waited.code, 0, "{}", waited.stderr);
    let mut holder = holder;
    assert!(holder.wait().unwrap().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_state_file_replaced_during_apply_is_not_overwritten() {
    let emu = Emulator::start();
    emu.configure(json!({"latency_ms": 40}));
    let w = Workdir::new(&emu, &public_seed_spec());
    let child = w.command(&["apply", "--auto-approve"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    assert!(wait_until(Duration::from_secs(10), || w.state_path().exists()));
    let foreign = json!({"version": 1, "serial": 7, "lineage": "someone-elses", "gwctl_version": "0.1.0", "resources": []}).to_string();
    // Replaced the way tools replace files: a new file renamed over it.
    let tmp = w.path().join("state/foreign.tmp");
    std::fs::write(&tmp, &foreign).unwrap();
    std::fs::rename(&tmp, w.state_path()).unwrap();
    let out = Run::from(child.wait_with_output().unwrap());
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stderr.contains("belongs to lineage someone-elses"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(w.state_path()).unwrap(), foreign);
}
