//! The AWS call budget of a no-op plan, counted at the emulator: at most 15
//! calls for the seed stack, growing with the number of pages, not routes.


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
    // A page boundary in the middle of the routes loses none of them.
    let state = w.state();
    let routes = state["resources"].as_array().unwrap().iter().filter(|r| r["kind"] == "route").count();
    assert_eq!(routes, 60);
}
