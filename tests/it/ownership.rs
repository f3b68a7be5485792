//! Never touch what is not ours (docs/design.md §6): another project's state,
//! a lost state, a forgotten resource, a renamed project, a state that lags
//! behind AWS, and create calls whose answers were lost. Every outcome is
//! read back from the emulator with the SDK.

use crate::safety::{count, project_spec, state_path, KEPT, ONE_OF_EACH};
use crate::common::*;
use aws_sdk_ec2::types::Filter;
use serde_json::json;

fn state_text(w: &Workdir, project: &str) -> String {
    std::fs::read_to_string(state_path(w, project)).expect("read state")
}

fn id_in(state: &str, address: &str) -> String {
    let doc: serde_json::Value = serde_json::from_str(state).expect("state JSON");
    let found = doc["resources"].as_array().into_iter().flatten().find(|r| r["address"] == address);
    found.and_then(|r| r["id"].as_str()).unwrap_or_else(|| panic!("{address} not in state")).to_string()
}

async fn log_group_retention(sdk: &Sdk, name: &str) -> Option<i32> {
    let out = sdk.logs.describe_log_groups().log_group_name_prefix(name).send().await.unwrap();
    out.log_groups().iter().find(|g| g.log_group_name() == Some(name)).and_then(|g| g.retention_in_days())
}

#[tokio::test]
async fn another_projects_state_is_refused_before_any_aws_call_and_its_stack_is_untouched() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let other = Workdir::new(&emu, &project_spec("p300"));
    other.expect(&["apply", "--auto-approve"], 0);
    let before = state_text(&other, "p300");
    let other_state = state_path(&other, "p300");
    let ours = Workdir::new(&emu, &public_seed_spec());

    emu.control("POST", "/_emulator/calls/reset", "");
    for args in [&["plan"][..], &["apply", "--auto-approve"], &["destroy", "--auto-approve"], &["drift"]] {
        let mut full = vec!["--state", other_state.to_str().unwrap()];
        full.extend_from_slice(args);
        let run = ours.run(&full);
        assert_eq!(run.code, 1, "{args:?} with another project's state: {}\n{}", run.stdout, run.stderr);
        assert!(run.stderr.contains("belongs to project p300, but the spec says project job-work-planner"), "{}", run.stderr);
    }
    assert_eq!(emu.calls()["total"], 0, "refused before any AWS call");
    assert_eq!(state_text(&other, "p300"), before, "the other project's state is untouched");

    // A hand-edited project and lineage are no key: the resources' tags refuse it.
    let forged = ours.path().join("state/forged.json");
    std::fs::create_dir_all(forged.parent().unwrap()).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&before).unwrap();
    doc["project"] = json!("job-work-planner");
    doc["lineage"] = json!("hand-edited");
    std::fs::write(&forged, doc.to_string()).unwrap();
    let run = ours.run(&["--state", forged.to_str().unwrap(), "apply", "--auto-approve"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("refusing to plan") && run.stderr.contains("(gwctl:project = p300)"), "{}", run.stderr);
    assert_eq!(count(&sdk, "p300").await, ONE_OF_EACH, "p300's stack is whole");
    let api = id_in(&before, "api.main");
    assert_eq!(sdk.apigw.get_api().api_id(&api).send().await.unwrap().name(), Some("p300"), "p300's API was not renamed");
    other.expect(&["plan", "--detailed-exitcode"], 0);

    // Importing another project's resource is refused.
    let group = id_in(&before, "security_group.backend");
    let run = ours.run(&["import", "security_group.backend", &group]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stderr.contains("belongs to project p300"), "{}", run.stderr);
}

#[tokio::test]
async fn a_lost_state_is_recovered_by_adoption_never_a_second_stack() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &public_seed_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    let ids: Vec<(String, String)> = ["instance.backend", "api.main", "integration.main", "authorizer.main.cognito", "route.main[\"GET /health\"]"]
        .iter()
        .map(|a| (a.to_string(), w.id_of(a)))
        .collect();
    for entry in std::fs::read_dir(w.path().join("state")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }

    let plan = w.plan_json();
    assert_eq!(plan["summary"]["create"], 0, "nothing is created twice: {plan}");
    assert_eq!(plan["summary"]["adopt"], 15, "{plan}");
    assert_eq!(plan["summary"]["delete"], 0, "{plan}");
    let human = w.expect(&["plan"], 0).stdout;
    assert!(human.contains("Plan: 0 to add, 0 to change, 0 to destroy, 15 to adopt."), "{human}");

    w.expect(&["apply", "--auto-approve"], 0);
    assert_eq!(count(&sdk, "job-work-planner").await, ONE_OF_EACH);
    assert_eq!(w.state()["resources"].as_array().unwrap().len(), 15, "the state lists everything again");
    for (address, id) in &ids {
        assert_eq!(&w.id_of(address), id, "{address} is the same resource");
    }
    w.expect(&["plan", "--detailed-exitcode"], 0);
    w.expect(&["drift"], 0);
}

#[tokio::test]
async fn a_forgotten_api_is_adopted_without_replacing_its_children() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &public_seed_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    let api = w.id_of("api.main");
    let route = w.id_of("route.main[\"GET /health\"]");
    w.expect(&["state", "rm", "api.main", "--auto-approve"], 0);

    let plan = w.plan_json();
    assert_eq!(actions(&plan), Vec::<(String, String)>::new(), "only an adoption: {plan}");
    assert_eq!(plan["summary"]["adopt"], 1, "{plan}");
    w.expect(&["apply", "--auto-approve"], 0);
    assert_eq!(w.id_of("api.main"), api);
    assert_eq!(w.id_of("route.main[\"GET /health\"]"), route, "the route was not replaced");
    assert_eq!(count(&sdk, "job-work-planner").await, ONE_OF_EACH);
    w.expect(&["plan", "--detailed-exitcode"], 0);
}

#[tokio::test]
async fn a_renamed_project_is_refused_naming_the_old_one_and_builds_nothing() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &public_seed_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    w.edit_spec("name   = \"job-work-planner\"", "name   = \"jwp-next\"");
    for args in [&["plan"][..], &["apply", "--auto-approve"]] {
        let run = w.run(args);
        assert_eq!(run.code, 1, "{args:?}: {}\n{}", run.stdout, run.stderr);
        assert!(run.stderr.contains("holds project job-work-planner (15 resources)"), "{}", run.stderr);
        assert!(run.stderr.contains("state/job-work-planner.json"), "names the old state file: {}", run.stderr);
    }
    let tagged = sdk
        .ec2
        .describe_instances()
        .filters(Filter::builder().name("tag:gwctl:project").values("jwp-next").build())
        .send()
        .await
        .unwrap();
    assert!(tagged.reservations().is_empty(), "no second instance");
    assert!(!w.path().join("state/jwp-next.json").exists());
    // A separate stack is still possible, said explicitly.
    let separate = w.run(&["--state", "state/jwp-next.json", "plan"]);
    assert_eq!(separate.code, 0, "{}", separate.stderr);
}

#[tokio::test]
async fn every_apply_records_what_it_read_so_drift_is_never_stale() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &public_seed_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    let name = "/aws/vendedlogs/apigateway/job-work-planner";
    // Changed in the console, and the spec follows: nothing to change, yet the state must learn it.
    sdk.logs.put_retention_policy().log_group_name(name).retention_in_days(14).send().await.unwrap();
    w.edit_spec("retention_days = 30", "retention_days = 14");
    let run = w.expect(&["apply", "--auto-approve"], 0);
    assert!(run.stdout.contains("No changes."), "{}", run.stdout);
    w.expect(&["drift"], 0);

    // --refresh-only accepts what AWS has without changing AWS.
    sdk.logs.put_retention_policy().log_group_name(name).retention_in_days(60).send().await.unwrap();
    let refused = w.run(&["apply", "--refresh-only"]);
    assert_eq!(refused.code, 1, "asks, and without a terminal refuses: {}", refused.stdout);
    let run = w.expect(&["apply", "--refresh-only", "--auto-approve"], 0);
    assert!(run.stdout.contains("retention_days = 14 -> 60"), "{}", run.stdout);
    assert_eq!(log_group_retention(&sdk, name).await, Some(60), "AWS was not changed");
    let state = w.state();
    let group = state["resources"].as_array().unwrap().iter().find(|r| r["address"] == "log_group.api_access").unwrap().clone();
    assert_eq!(group["attributes"]["retention_days"], 60);
    w.expect(&["drift"], 0);
    let plan = w.plan_json();
    assert_eq!(actions(&plan), vec![("log_group.api_access".to_string(), "update".to_string())], "the spec still says 14");
}

#[tokio::test]
async fn lost_answers_to_creates_neither_fail_the_run_nor_leave_duplicates() {
    let emu = Emulator::start();
    let ops = [
        "ec2:CreateSecurityGroup",
        "ec2:AuthorizeSecurityGroupIngress",
        "iam:CreateInstanceProfile",
        "iam:AddRoleToInstanceProfile",
        "logs:CreateLogGroup",
        "apigateway:POST /v2/apis/{id}/authorizers",
        "apigateway:POST /v2/apis/{id}/integrations",
        "apigateway:POST /v2/apis/{id}/routes",
        "apigateway:POST /v2/apis/{id}/stages",
    ];
    let faults: Vec<serde_json::Value> = ops.iter().map(|op| json!({"operation": op, "error": "reset-after", "count": 1})).collect();
    emu.configure(json!({ "faults": faults }));
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &public_seed_spec());
    let run = w.expect(&["apply", "--auto-approve"], 0);
    assert!(run.stdout.contains("15 added"), "{}", run.stdout);
    let calls = emu.calls();
    for op in ops {
        assert!(calls["by_operation"][op].as_u64().unwrap_or(0) >= 1, "{op} was called: {calls}");
    }
    assert_eq!(count(&sdk, "job-work-planner").await, ONE_OF_EACH, "no second authorizer, integration, route, stage or group");
    w.expect(&["plan", "--detailed-exitcode"], 0);
    w.expect(&["drift"], 0);
}

#[tokio::test]
async fn an_adopted_instance_is_compared_with_the_ami_id_the_spec_names() {
    let emu = Emulator::start();
    let w = Workdir::new(&emu, &public_seed_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    let ami_line = w.spec().lines().find(|l| l.starts_with("ami ")).unwrap().to_string();
    w.edit_spec(&ami_line, "ami             = \"ami-1e749f67\"");
    w.expect(&["state", "rm", "instance.backend", "--auto-approve"], 0);
    let plan = w.plan_json();
    let instance = plan["changes"].as_array().unwrap().iter().find(|c| c["address"] == "instance.backend").unwrap().clone();
    assert_eq!(instance["action"], "replace", "the AMI the spec names now differs from the one running: {instance}");
    assert!(instance["adopt"].is_object(), "{instance}");
}

#[tokio::test]
async fn a_failed_update_leaves_the_difference_for_drift_to_report() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &public_seed_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    sdk.logs.put_retention_policy().log_group_name("/aws/vendedlogs/apigateway/job-work-planner").retention_in_days(7).send().await.unwrap();
    emu.configure(json!({"faults": [{"operation": "logs:PutRetentionPolicy", "error": "5xx", "count": 1000}]}));
    w.expect(&["apply", "--auto-approve"], 1);
    let drift = w.run(&["drift"]);
    assert_eq!(drift.code, 2, "the console change is still reported: {}", drift.stdout);
    assert!(drift.stdout.contains("retention_days: 30 (applied) -> 7 (live)"), "{}", drift.stdout);
}

#[tokio::test]
async fn destroy_with_a_lost_state_refuses_until_the_stack_is_adopted() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &public_seed_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    for entry in std::fs::read_dir(w.path().join("state")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let run = w.expect(&["destroy", "--auto-approve"], 1);
    assert!(run.stderr.contains("refusing to destroy") && run.stderr.contains("gwctl apply --refresh-only"), "{}", run.stderr);
    assert_eq!(count(&sdk, "job-work-planner").await, ONE_OF_EACH, "nothing was deleted");
    let run = w.expect(&["apply", "--refresh-only", "--auto-approve"], 0);
    assert!(run.stdout.contains("will be adopted into the state"), "{}", run.stdout);
    w.expect(&["destroy", "--auto-approve"], 0);
    assert_eq!(count(&sdk, "job-work-planner").await, KEPT);
    let again = w.expect(&["destroy", "--auto-approve"], 0);
    assert!(again.stdout.contains("Nothing to destroy"), "{}", again.stdout);
}

#[tokio::test]
async fn a_same_named_resource_that_is_not_ours_is_named_in_the_plan_before_anything_is_made() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    sdk.logs.create_log_group().log_group_name("/aws/vendedlogs/apigateway/job-work-planner").send().await.unwrap();
    sdk.ec2.create_security_group().group_name("job-work-planner-backend").description("made by hand").send().await.unwrap();
    let w = Workdir::new(&emu, &public_seed_spec());
    let plan = w.plan_json();
    let sg = plan["changes"].as_array().unwrap().iter().find(|c| c["address"] == "security_group.backend").unwrap().clone();
    assert!(sg["reason"].as_str().unwrap_or_default().contains("carries no gwctl tags"), "{sg}");
    let group = plan["changes"].as_array().unwrap().iter().find(|c| c["address"] == "log_group.api_access").unwrap().clone();
    assert_eq!(group["action"], "create", "{group}");
    let reason = group["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("already exists and it carries no gwctl tags") && reason.contains("will be refused"), "{group}");
    let human = w.expect(&["plan"], 0).stdout;
    assert!(human.contains("carries no gwctl tags"), "{human}");
    let run = w.expect(&["apply", "--auto-approve"], 1);
    assert!(run.stderr.contains("log_group.api_access") && run.stderr.contains("not managed by"), "{}", run.stderr);
    assert!(run.stderr.contains("security_group.backend"), "{}", run.stderr);
    let groups = sdk.logs.describe_log_groups().log_group_name_prefix("/aws/vendedlogs/apigateway/job-work-planner").send().await.unwrap();
    let arn = groups.log_groups()[0].arn().unwrap().trim_end_matches(":*").to_string();
    let tags = sdk.logs.list_tags_for_resource().resource_arn(arn).send().await.unwrap();
    assert!(tags.tags().is_none_or(|m| !m.contains_key("gwctl:project")), "the stranger's group was not tagged as ours: {:?}", tags.tags());
}

#[tokio::test]
async fn destroy_keeps_the_access_logs_and_the_next_apply_adopts_them_unchanged() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &public_seed_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    let name = "/aws/vendedlogs/apigateway/job-work-planner";
    let plan = w.expect(&["destroy"], 1);
    assert!(plan.stdout.contains("# log_group.api_access (log_group) will be kept in AWS and removed from the state"), "{}", plan.stdout);
    assert!(plan.stdout.contains("Plan: 0 to add, 0 to change, 14 to destroy, 1 to keep."), "{}", plan.stdout);
    let run = w.expect(&["destroy", "--auto-approve"], 0);
    assert!(run.stdout.contains(&format!("14 destroyed; kept in AWS: log_group.api_access ({name})")), "{}", run.stdout);
    assert_eq!(count(&sdk, "job-work-planner").await, KEPT, "exactly the access-log group is left");
    let arn = sdk.logs.describe_log_groups().log_group_name_prefix(name).send().await.unwrap().log_groups()[0].arn().unwrap().trim_end_matches(":*").to_string();
    let tags = sdk.logs.list_tags_for_resource().resource_arn(arn).send().await.unwrap();
    assert_eq!(tags.tags().and_then(|t| t.get("gwctl:project")).map(String::as_str), Some("job-work-planner"), "still tagged: {tags:?}");
    assert_eq!(w.state()["resources"], serde_json::json!([]));
    // A second destroy has nothing to do: the kept group is not "unrecorded".
    assert!(w.expect(&["destroy", "--auto-approve"], 0).stdout.contains("Nothing to destroy"));

    let plan = w.plan_json();
    let group = plan["changes"].as_array().unwrap().iter().find(|c| c["address"] == "log_group.api_access").unwrap();
    assert_eq!(group["action"], "no-op", "adopted as it is: {group}");
    assert!(group["adopt"].is_object(), "{group}");
    w.expect(&["apply", "--auto-approve"], 0);
    assert_eq!(count(&sdk, "job-work-planner").await, ONE_OF_EACH, "one log group, adopted again");
    w.expect(&["plan", "--detailed-exitcode"], 0);

    // retain_on_destroy = false deletes it with the rest.
    w.edit_spec("retention_days = 30", "retention_days = 30\nretain_on_destroy = false");
    w.expect(&["destroy", "--auto-approve"], 0);
    assert_eq!(count(&sdk, "job-work-planner").await.log_groups, 0);
}
