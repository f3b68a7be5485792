//! The AWS call budget of a no-op plan, counted at the emulator: at most 15
//! calls for the seed stack as the CDK built it, growing with the number of
//! pages, not routes; and every read made at once, from what the state
//! knows, so that the plan waits out one round trip of latency.


use crate::common::*;
use serde_json::json;

/// The seed spec with `n` routes in all.
fn spec_with_routes(n: usize) -> String {
    let mut spec = public_seed_spec();
    for i in 0..n.saturating_sub(6) {
        spec.push_str(&format!("\"GET /extra{i}\" = {{ auth = \"cognito\" }}\n"));
    }
    spec
}

fn noop_plan_calls(emu: &Emulator, w: &Workdir) -> u64 {
    emu.control("POST", "/_emulator/calls/reset", "");
    let run = w.expect(&["plan", "--detailed-exitcode"], 0);
    assert!(run.stdout.contains("No changes"), "{}", run.stdout);
    emu.calls()["total"].as_u64().unwrap()
}

#[test]
fn a_noop_plan_of_the_seed_stack_makes_at_most_15_calls() {
    let emu = Emulator::start();
    let w = Workdir::new(&emu, &public_seed_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    let calls = noop_plan_calls(&emu, &w);
    assert!(calls <= 15, "{calls} calls: {}", emu.calls());
}

/// The `round trips deep` figure `--stats` prints.
fn round_trips(stderr: &str) -> usize {
    let re = regex::Regex::new(r"AWS calls: \d+ in [\d.]+s, (\d+) round trips? deep").unwrap();
    re.captures(stderr).unwrap_or_else(|| panic!("no round trips in: {stderr}"))[1].parse().unwrap()
}

#[test]
fn a_noop_plan_reads_everything_in_one_round_trip() {
    let emu = Emulator::start();
    // A latency that separates a call made after another answered from one
    // made beside it, whatever the scheduling.
    emu.configure(json!({"latency_ms": 20}));
    for (name, spec) in [("private seed with its user pool", seed_spec()), ("public seed", public_seed_spec())] {
        let w = Workdir::new(&emu, &spec);
        w.expect(&["apply", "--auto-approve"], 0);
        emu.control("POST", "/_emulator/calls/reset", "");
        let run = w.expect(&["plan", "--detailed-exitcode", "--stats"], 0);
        assert_eq!(round_trips(&run.stderr), 1, "{name}: {}", run.stderr);
        // Every kind was read: the instance's volume and user data, the
        // role's policies, tags by the ARNs the state records.
        let calls = emu.calls();
        for op in ["ec2:DescribeVolumes", "ec2:DescribeInstanceAttribute", "iam:ListAttachedRolePolicies", "logs:ListTagsForResource"] {
            assert_eq!(calls["by_operation"][op], 1, "{name}: {op}: {calls}");
        }
        w.expect(&["destroy", "--auto-approve"], 0);
    }
}

#[test]
fn calls_grow_with_pages_not_routes() {
    let emu = Emulator::start();
    emu.configure(json!({"page_size": 10}));
    let w = Workdir::new(&emu, &spec_with_routes(60));
    w.expect(&["apply", "--auto-approve"], 0);
    let sixty = noop_plan_calls(&emu, &w);
    let calls = emu.calls();
    // 60 routes in pages of 10: GetRoutes 6 times, every other read once.
    assert_eq!(calls["by_operation"]["apigateway:GET /v2/apis/{id}/routes"], 6, "{calls}");
    assert!(sixty <= 15 + 5, "{sixty} calls: {calls}");
    // The pages follow each other; everything else is read beside the first.
    emu.control("POST", "/_emulator/calls/reset", "");
    let run = w.expect(&["plan", "--stats"], 0);
    assert_eq!(round_trips(&run.stderr), 6, "{}", run.stderr);
    // A page boundary in the middle of the routes loses none of them.
    let state = w.state();
    let routes = state["resources"].as_array().unwrap().iter().filter(|r| r["kind"] == "route").count();
    assert_eq!(routes, 60);
}
