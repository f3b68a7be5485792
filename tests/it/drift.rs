//! `gwctl drift` against the emulator: out-of-band changes made with the SDK,
//! as a person in the console would; exit codes, JSON, the state file left
//! byte for byte, and plan + apply restoring the spec.


use crate::common::*;

struct Stack {
    emu: Emulator,
    sdk: Sdk,
    w: Workdir,
}

async fn applied() -> Stack {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &public_seed_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    Stack { emu, sdk, w }
}

fn state_bytes(w: &Workdir) -> Vec<u8> {
    std::fs::read(w.state_path()).expect("state")
}

/// Runs drift expecting exit 2; checks it changed nothing; returns the JSON.
fn drifted(w: &Workdir) -> serde_json::Value {
    let before = state_bytes(w);
    let run = w.expect(&["drift", "--json"], 2);
    assert_eq!(state_bytes(w), before, "drift must not write the state");
    assert!(!w.path().join("state/job-work-planner.json.lock").exists(), "drift takes no lock");
    serde_json::from_str(&run.stdout).expect("drift --json is JSON")
}

fn findings(report: &serde_json::Value) -> Vec<(String, String)> {
    report["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["address"].as_str().unwrap().to_string(), f["status"].as_str().unwrap().to_string()))
        .collect()
}

/// plan shows a change, apply restores, drift is clean again.
fn restore(w: &Workdir) {
    assert_eq!(w.run(&["plan", "--detailed-exitcode"]).code, 2, "plan shows what would restore the spec");
    w.expect(&["apply", "--auto-approve"], 0);
    w.expect(&["drift"], 0);
    w.expect(&["plan", "--detailed-exitcode"], 0);
}

/// Tags are read by the ARN the state records, beside the describe: for a
/// group deleted out of band AWS answers ResourceNotFoundException to that
/// read, which is the deletion drift reports, not a failure of drift.
#[tokio::test]
async fn a_deleted_log_group_is_reported_deleted_though_its_tags_were_asked_for() {
    let s = applied().await;
    s.sdk.logs.delete_log_group().log_group_name("/aws/vendedlogs/apigateway/job-work-planner").send().await.unwrap();
    let report = drifted(&s.w);
    assert_eq!(findings(&report), vec![("log_group.api_access".to_string(), "deleted".to_string())], "{report}");
    assert_eq!(s.emu.calls()["by_operation"]["logs:ListTagsForResource"].as_u64().map(|n| n > 0), Some(true), "the tags were asked for");
    restore(&s.w);
}

/// A route's own throttle in the stage overrides the spec's stage throttle
/// (the seed's promise of 100 requests/s for every business request).
#[tokio::test]
async fn a_routes_own_throttle_is_drift_and_apply_removes_it() {
    let s = applied().await;
    let api = s.w.id_of("api.main");
    let loose = aws_sdk_apigatewayv2::types::RouteSettings::builder().throttling_rate_limit(100000.0).throttling_burst_limit(100000).build();
    // The stage's own throttle raised in the same change: one apply undoes both.
    let raised = aws_sdk_apigatewayv2::types::RouteSettings::builder().throttling_rate_limit(5000.0).throttling_burst_limit(5000).build();
    s.sdk
        .apigw
        .update_stage()
        .api_id(&api)
        .stage_name("$default")
        .route_settings("ANY /jobs/{proxy+}", loose)
        .default_route_settings(raised)
        .send()
        .await
        .unwrap();
    let report = drifted(&s.w);
    assert_eq!(findings(&report), vec![("stage.main".to_string(), "modified".to_string())], "{report}");
    let diffs = report["drift"][0]["diff"].as_array().unwrap();
    let overrides = diffs.iter().find(|d| d["path"] == "route_settings").unwrap_or_else(|| panic!("{report}"));
    assert_eq!(overrides["after"]["ANY /jobs/{proxy+}"]["throttle_rate"], 100000.0, "{report}");
    let plan = s.w.expect(&["plan"], 0);
    assert!(plan.stdout.contains("route_settings") && plan.stdout.contains("1 to change"), "{}", plan.stdout);
    restore(&s.w);
    let stage = s.sdk.apigw.get_stage().api_id(&api).stage_name("$default").send().await.unwrap();
    assert!(stage.route_settings().map_or(true, |r| r.is_empty()), "the override is gone in AWS: {:?}", stage.route_settings());
    assert_eq!(stage.default_route_settings().and_then(|d| d.throttling_rate_limit()), Some(100.0));
}

#[tokio::test]
async fn a_freshly_applied_stack_has_no_drift() {
    let s = applied().await;
    let before = state_bytes(&s.w);
    for _ in 0..2 {
        let run = s.w.expect(&["drift", "--json"], 0);
        let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(report["format_version"], "1");
        assert_eq!(report["drift"], serde_json::json!([]));
        assert_eq!(report["in_sync"], 15);
    }
    let human = s.w.expect(&["drift"], 0);
    assert!(human.stdout.contains("No drift: all 15 resources match the state."), "{}", human.stdout);
    assert_eq!(state_bytes(&s.w), before);
}

#[tokio::test]
async fn raised_throttle_is_modified_with_both_values() {
    let s = applied().await;
    let api = s.w.id_of("api.main");
    s.sdk
        .apigw
        .update_stage()
        .api_id(&api)
        .stage_name("$default")
        .default_route_settings(aws_sdk_apigatewayv2::types::RouteSettings::builder().throttling_rate_limit(1000.0).throttling_burst_limit(2000).build())
        .send()
        .await
        .unwrap();
    let report = drifted(&s.w);
    assert_eq!(findings(&report), vec![("stage.main".to_string(), "modified".to_string())]);
    let diff = &report["drift"][0]["diff"];
    let rate = diff.as_array().unwrap().iter().find(|d| d["path"] == "throttle_rate").unwrap();
    assert_eq!((rate["before"].as_f64(), rate["after"].as_f64()), (Some(100.0), Some(1000.0)));
    let human = s.w.expect(&["drift"], 2).stdout;
    assert!(human.contains("~ stage.main (stage): modified"), "{human}");
    assert!(human.contains("throttle_rate: 100.0 (applied) -> 1000.0 (live)"), "{human}");
    restore(&s.w);
}

#[tokio::test]
async fn a_deleted_route_is_deleted() {
    let s = applied().await;
    let route = s.w.id_of("route.main[\"ANY /jobs/{proxy+}\"]");
    s.sdk.apigw.delete_route().api_id(s.w.id_of("api.main")).route_id(route).send().await.unwrap();
    let report = drifted(&s.w);
    assert_eq!(findings(&report), vec![("route.main[\"ANY /jobs/{proxy+}\"]".to_string(), "deleted".to_string())]);
    restore(&s.w);
}

#[tokio::test]
async fn port_22_opened_is_an_unmanaged_rule() {
    let s = applied().await;
    s.sdk.open_port_22(&s.w.id_of("security_group.backend")).await;
    let report = drifted(&s.w);
    assert_eq!(findings(&report), vec![("security_group.backend".to_string(), "unmanaged".to_string())]);
    assert_eq!(report["drift"][0]["diff"][0]["path"], "ingress");
    assert_eq!(report["drift"][0]["diff"][0]["after"][0]["from_port"], 22);
    restore(&s.w);
}

#[tokio::test]
async fn a_stopped_instance_is_modified() {
    let s = applied().await;
    s.sdk.ec2.stop_instances().instance_ids(s.w.id_of("instance.backend")).send().await.unwrap();
    let report = drifted(&s.w);
    assert_eq!(findings(&report), vec![("instance.backend".to_string(), "modified".to_string())]);
    let state = report["drift"][0]["diff"].as_array().unwrap().iter().find(|d| d["path"] == "state").unwrap().clone();
    assert_eq!((state["before"].as_str(), state["after"].as_str()), (Some("running"), Some("stopped")));
    restore(&s.w);
    let sdk_state = s.sdk.ec2.describe_instances().instance_ids(s.w.id_of("instance.backend")).send().await.unwrap();
    assert_eq!(sdk_state.reservations()[0].instances()[0].state().and_then(|x| x.name()).map(|n| n.as_str()), Some("running"));
}

#[tokio::test]
async fn an_attached_policy_is_unmanaged_and_apply_detaches_it() {
    let s = applied().await;
    s.sdk
        .iam
        .attach_role_policy()
        .role_name("job-work-planner-backend")
        .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
        .send()
        .await
        .unwrap();
    let report = drifted(&s.w);
    assert_eq!(findings(&report), vec![("role.backend".to_string(), "unmanaged".to_string())]);
    assert_eq!(report["drift"][0]["diff"][0]["after"][0], "arn:aws:iam::aws:policy/AdministratorAccess");
    restore(&s.w);
    let attached = s.sdk.iam.list_attached_role_policies().role_name("job-work-planner-backend").send().await.unwrap();
    assert_eq!(attached.attached_policies().len(), 1);
}

#[tokio::test]
async fn a_route_added_without_authorization_is_unmanaged_and_apply_removes_it() {
    let s = applied().await;
    let api = s.w.id_of("api.main");
    let integration = s.w.id_of("integration.main");
    s.sdk
        .apigw
        .create_route()
        .api_id(&api)
        .route_key("ANY /admin/{proxy+}")
        .target(format!("integrations/{integration}"))
        .send()
        .await
        .unwrap();
    let report = drifted(&s.w);
    assert_eq!(findings(&report), vec![("route.main[\"ANY /admin/{proxy+}\"]".to_string(), "unmanaged".to_string())]);
    let plan = s.w.plan_json();
    assert_eq!(actions(&plan), vec![("route.main[\"ANY /admin/{proxy+}\"]".to_string(), "delete".to_string())]);
    restore(&s.w);
    let routes = s.sdk.apigw.get_routes().api_id(&api).send().await.unwrap();
    assert!(routes.items().iter().all(|r| r.route_key() != Some("ANY /admin/{proxy+}")));
}

#[tokio::test]
async fn several_changes_at_once_are_all_reported_and_all_restored() {
    let s = applied().await;
    let api = s.w.id_of("api.main");
    s.sdk.apigw.delete_route().api_id(&api).route_id(s.w.id_of("route.main[\"GET /health\"]")).send().await.unwrap();
    s.sdk.ec2.stop_instances().instance_ids(s.w.id_of("instance.backend")).send().await.unwrap();
    s.sdk.logs.put_retention_policy().log_group_name("/aws/vendedlogs/apigateway/job-work-planner").retention_in_days(1).send().await.unwrap();
    s.sdk.iam.delete_instance_profile().instance_profile_name("job-work-planner-backend").send().await.ok();
    let report = drifted(&s.w);
    let mut got = findings(&report);
    got.sort();
    let mut want = vec![
        ("instance.backend".to_string(), "modified".to_string()),
        ("log_group.api_access".to_string(), "modified".to_string()),
        ("route.main[\"GET /health\"]".to_string(), "deleted".to_string()),
    ];
    if got.iter().any(|f| f.0 == "instance_profile.backend") {
        want.push(("instance_profile.backend".to_string(), "deleted".to_string()));
    }
    want.sort();
    assert_eq!(got, want);
    assert_eq!(report["in_sync"].as_u64().unwrap() as usize, 15 - want.len());
    restore(&s.w);
}

#[tokio::test]
async fn ignored_attributes_let_a_team_tolerate_drift() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &format!("{}\n[drift]\nignore = [\"instance.backend.state\"]\n", public_seed_spec()));
    w.expect(&["apply", "--auto-approve"], 0);
    sdk.ec2.stop_instances().instance_ids(w.id_of("instance.backend")).send().await.unwrap();
    w.expect(&["drift"], 0);
    sdk.logs.put_retention_policy().log_group_name("/aws/vendedlogs/apigateway/job-work-planner").retention_in_days(1).send().await.unwrap();
    w.expect(&["drift"], 2);
    drop(emu);
}

#[tokio::test]
async fn drift_that_cannot_check_exits_1_not_2() {
    let emu = Emulator::start();
    let w = Workdir::new(&emu, &public_seed_spec());
    // No credentials anywhere in the chain.
    let run = w.command(&["drift"]).env_remove("AWS_ACCESS_KEY_ID").env_remove("AWS_SECRET_ACCESS_KEY").output().unwrap();
    let run = Run::from(run);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    // A spec that does not validate.
    w.write_spec("[project]\nname = \"x\"\n");
    assert_eq!(w.run(&["drift"]).code, 1);
}

#[test]
fn tagged_resources_outside_the_state_are_reported() {
    // A stack applied into one state, then that state lost: everything it made
    // carries the project tag and shows up as unmanaged.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = rt.block_on(applied());
    std::fs::remove_file(s.w.state_path()).unwrap();
    let run = s.w.expect(&["drift", "--json"], 2);
    assert!(!s.w.state_path().exists(), "drift does not write a state");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let got = findings(&report);
    for expected in ["instance.backend", "security_group.backend", "api.main", "role.backend"] {
        assert!(got.contains(&(expected.to_string(), "unmanaged".to_string())), "{expected} missing from {got:?}");
    }
    drop(s.emu);
}
