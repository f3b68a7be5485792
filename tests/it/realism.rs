//! Real AWS, not only the emulator (docs/design.md §7): behaviours AWS has and
//! moto forgives, each reproduced by the emulator (tests/emulator/) where it
//! needs to be, and what gwctl does about it, read back with the SDK.

use crate::common::*;

fn change_of<'a>(plan: &'a serde_json::Value, address: &str) -> &'a serde_json::Value {
    plan["changes"].as_array().unwrap().iter().find(|c| c["address"] == address).unwrap_or_else(|| panic!("{address} not in {plan}"))
}

#[tokio::test]
async fn a_new_instance_type_replans_the_integration_that_points_at_its_address() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &public_seed_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    w.edit_spec("instance_type   = \"t3.micro\"", "instance_type   = \"t3.small\"");
    let plan = w.plan_json();
    let integration = change_of(&plan, "integration.main");
    assert_eq!(integration["action"], "update", "a stop/start releases the public address: {integration}");
    let uri = integration["diff"].as_array().unwrap().iter().find(|d| d["path"] == "uri").unwrap();
    assert_eq!(uri["after"], "(known after apply)", "{uri}");
    w.expect(&["apply", "--auto-approve"], 0);
    let instance = w.id_of("instance.backend");
    let live = sdk.ec2.describe_instances().instance_ids(&instance).send().await.unwrap();
    let dns = live.reservations()[0].instances()[0].public_dns_name().unwrap_or_default().to_string();
    let api = w.id_of("api.main");
    let integrations = sdk.apigw.get_integrations().api_id(&api).send().await.unwrap();
    assert_eq!(integrations.items()[0].integration_uri(), Some(format!("http://{dns}").as_str()), "the integration follows the address");
    w.expect(&["plan", "--detailed-exitcode"], 0);
}

#[tokio::test]
async fn numeric_protocols_converge_with_what_ec2_reports() {
    let emu = Emulator::start();
    let w = Workdir::new(&emu, &ec2_spec());
    w.edit_spec("protocol = \"tcp\"", "protocol = \"6\"");
    w.expect(&["apply", "--auto-approve"], 0);
    w.expect(&["plan", "--detailed-exitcode"], 0);
}

#[tokio::test]
async fn removing_access_log_turns_logging_off() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &seed_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    w.edit_spec("access_log  = \"api_access\"\n", "");
    w.expect(&["apply", "--auto-approve"], 0);
    let stage = sdk.apigw.get_stage().api_id(w.id_of("api.main")).stage_name("$default").send().await.unwrap();
    assert!(stage.access_log_settings().and_then(|s| s.destination_arn()).is_none(), "{:?}", stage.access_log_settings());
    assert_eq!(emu.calls()["by_operation"]["apigateway:DELETE /v2/apis/{id}/stages/{id}/accesslogsettings"], 1, "{}", emu.calls());
    w.expect(&["plan", "--detailed-exitcode"], 0);
}

#[tokio::test]
async fn iam_propagation_delays_are_waited_out_on_a_first_apply() {
    let emu = Emulator::start();
    emu.configure(serde_json::json!({"profile_visibility_seconds": 3, "profile_role_visibility_seconds": 3, "role_visibility_seconds": 3}));
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &public_seed_spec());
    let run = w.expect(&["apply", "--auto-approve"], 0);
    assert!(run.stdout.contains("15 added"), "{}", run.stdout);
    let calls = emu.calls();
    assert!(calls["by_operation"]["ec2:RunInstances"].as_u64().unwrap() >= 2, "RunInstances was refused and retried: {calls}");
    assert!(calls["by_operation"]["iam:AddRoleToInstanceProfile"].as_u64().unwrap() >= 2, "AddRoleToInstanceProfile was refused and retried: {calls}");
    let instance = w.id_of("instance.backend");
    let live = sdk.ec2.describe_instances().instance_ids(&instance).send().await.unwrap();
    let profile = live.reservations()[0].instances()[0].iam_instance_profile().and_then(|p| p.arn()).unwrap_or_default().to_string();
    assert!(profile.ends_with("/job-work-planner-backend"), "{profile}");
    w.expect(&["plan", "--detailed-exitcode"], 0);
}

#[tokio::test]
async fn a_new_group_missing_from_its_first_describes_is_waited_for() {
    let emu = Emulator::start();
    emu.configure(serde_json::json!({"group_visibility_describes": 3}));
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &ec2_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    let group = sdk.ec2.describe_security_groups().group_ids(w.id_of("security_group.backend")).send().await.unwrap();
    let egress = group.security_groups()[0].ip_permissions_egress();
    assert_eq!(egress.len(), 1, "the default egress rule once, not authorized again: {egress:?}");
    w.expect(&["plan", "--detailed-exitcode"], 0);
}

#[tokio::test]
async fn start_after_a_type_change_is_retried_until_ec2_accepts_it() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &ec2_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    emu.configure(serde_json::json!({"start_mismatch_calls": 2}));
    w.edit_spec("instance_type   = \"t3.micro\"", "instance_type   = \"t3.small\"");
    w.expect(&["apply", "--auto-approve"], 0);
    let live = sdk.ec2.describe_instances().instance_ids(w.id_of("instance.backend")).send().await.unwrap();
    let inst = &live.reservations()[0].instances()[0];
    assert_eq!(inst.instance_type().map(|t| t.as_str()), Some("t3.small"));
    assert_eq!(inst.state().and_then(|s| s.name()).map(|n| n.as_str()), Some("running"), "the backend is up again");
    assert!(emu.calls()["by_operation"]["ec2:StartInstances"].as_u64().unwrap() >= 3);
}

#[tokio::test]
async fn a_group_whose_instance_is_shutting_down_is_deleted_once_it_is_free() {
    let emu = Emulator::start();
    emu.configure(serde_json::json!({"group_dependency_violation": true, "shutting_down_seconds": 2}));
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &ec2_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    let group = w.id_of("security_group.backend");
    let started = std::time::Instant::now();
    w.expect(&["destroy", "--auto-approve"], 0);
    assert!(started.elapsed() >= std::time::Duration::from_secs(2), "the delete waited for the instance to go");
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "and no longer than needed: {:?}", started.elapsed());
    let gone = sdk.ec2.describe_security_groups().group_ids(&group).send().await;
    assert!(gone.is_err(), "the group is deleted");
}

#[tokio::test]
async fn without_auto_deploy_each_change_to_routes_is_deployed_once() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &seed_spec().replace("auto_deploy = true", "auto_deploy = false"));
    let deployments = |api: String| {
        let sdk = &sdk;
        async move { sdk.apigw.get_deployments().api_id(api).send().await.unwrap().items().len() }
    };
    w.expect(&["apply", "--auto-approve"], 0);
    let api = w.id_of("api.main");
    assert_eq!(deployments(api.clone()).await, 1, "the new stage serves the routes");
    let stage = sdk.apigw.get_stage().api_id(&api).stage_name("$default").send().await.unwrap();
    assert!(stage.deployment_id().is_some());
    w.expect(&["plan", "--detailed-exitcode"], 0);
    w.expect(&["drift"], 0);

    w.edit_spec("\"GET /health\"               = { auth = \"none\" }", "\"GET /health\"               = { auth = \"cognito\" }");
    let plan = w.plan_json();
    let stage_change = change_of(&plan, "stage.main");
    assert_eq!(stage_change["action"], "update", "{stage_change}");
    w.expect(&["apply", "--auto-approve"], 0);
    assert_eq!(deployments(api.clone()).await, 2, "the changed route is deployed");
    w.expect(&["plan", "--detailed-exitcode"], 0);
    w.expect(&["drift"], 0);
}

#[tokio::test]
async fn a_change_of_tags_reaches_the_stage() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &public_seed_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    w.edit_spec("[tags]\n", "[tags]\nTeam = \"planning\"\n");
    w.expect(&["apply", "--auto-approve"], 0);
    let stage = sdk.apigw.get_stage().api_id(w.id_of("api.main")).stage_name("$default").send().await.unwrap();
    assert_eq!(stage.tags().and_then(|t| t.get("Team")).map(String::as_str), Some("planning"));
    w.expect(&["plan", "--detailed-exitcode"], 0);
}

/// Every AWS behaviour the emulator can reproduce, on at once: the seed stack
/// applies, takes a change to every attribute of the spec that updates in
/// place, and is destroyed; each step's time is printed (`--nocapture`).
#[tokio::test]
async fn the_seed_stack_applies_updates_and_destroys_under_realism() {
    let emu = Emulator::start();
    emu.configure(serde_json::json!({
        "profile_visibility_seconds": 1,
        "profile_role_visibility_seconds": 1,
        "role_visibility_seconds": 1,
        "group_visibility_describes": 2,
        "group_dependency_violation": true,
        "shutting_down_seconds": 2,
        "start_mismatch_calls": 1,
        "vpc_link_pending_seconds": 2,
        "vpc_link_release_seconds": 2
    }));
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &seed_spec());
    let timed = |what: &str, args: &[&str]| {
        let started = std::time::Instant::now();
        w.expect(args, 0);
        println!("realism: {what} took {:.1}s", started.elapsed().as_secs_f64());
    };
    timed("apply from nothing", &["apply", "--auto-approve"]);
    w.expect(&["plan", "--detailed-exitcode"], 0);
    for (from, to) in [
        ("Project = \"job-work-planner\"", "Project = \"job-work-planner\"\nTeam = \"planning\""),
        ("managed_policies = [\"arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore\"]", "managed_policies = [\"arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore\", \"arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy\"]"),
        ("port = 80, security_group = \"link\"", "port = 8080, security_group = \"link\""),
        ("instance_type   = \"t3.micro\"", "instance_type   = \"t3.small\""),
        ("retention_days = 30", "retention_days = 14"),
        ("clients   = [\"web\"]", "clients   = [\"web\", \"mobile\"]"),
        ("[user_pool.main.client.web]", "[user_pool.main.client.mobile]\n\n[user_pool.main.client.web]"),
        ("mfa                 = \"optional\"", "mfa                 = \"on\""),
        ("throttle    = { rate = 100, burst = 200 }", "throttle    = { rate = 50, burst = 100 }\ndetailed_metrics = true"),
        ("\"GET /health\"               = { auth = \"none\" }", "\"GET /health\"               = { auth = \"none\" }\n\"GET /version\"              = { auth = \"none\" }"),
        ("\"ANY /reports/{proxy+}\"     = { auth = \"cognito\" }", "\"ANY /reports/{proxy+}\"     = { auth = \"none\" }"),
    ] {
        w.edit_spec(from, to);
    }
    timed("apply of every in-place change", &["apply", "--auto-approve"]);
    w.expect(&["plan", "--detailed-exitcode"], 0);
    w.expect(&["drift"], 0);
    let live = sdk.ec2.describe_instances().instance_ids(w.id_of("instance.backend")).send().await.unwrap();
    let inst = &live.reservations()[0].instances()[0];
    assert_eq!(inst.instance_type().map(|t| t.as_str()), Some("t3.small"));
    assert_eq!(inst.state().and_then(|s| s.name()).map(|n| n.as_str()), Some("running"));
    let stage = sdk.apigw.get_stage().api_id(w.id_of("api.main")).stage_name("$default").send().await.unwrap();
    let settings = stage.default_route_settings().unwrap();
    assert_eq!((settings.throttling_rate_limit(), settings.throttling_burst_limit(), settings.detailed_metrics_enabled()), (Some(50.0), Some(100), Some(true)));
    w.edit_spec("description = \"Job Work Planner backend\"", "description = \"Job Work Planner backend, port 8080\"");
    timed("apply of a replaced security group", &["apply", "--auto-approve"]);
    w.expect(&["plan", "--detailed-exitcode"], 0);
    timed("destroy", &["destroy", "--auto-approve"]);
    assert_eq!(crate::safety::count(&sdk, "job-work-planner").await, crate::safety::KEPT);
}

#[tokio::test]
async fn a_backend_in_a_subnet_without_public_addresses_is_refused_before_planning() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let vpcs = sdk.ec2.describe_vpcs().send().await.unwrap();
    let vpc = vpcs.vpcs().iter().find(|v| v.is_default() == Some(true)).and_then(|v| v.vpc_id()).unwrap().to_string();
    let subnet = sdk.ec2.create_subnet().vpc_id(&vpc).cidr_block("172.31.200.0/24").send().await.unwrap();
    let subnet = subnet.subnet().and_then(|s| s.subnet_id()).unwrap().to_string();
    let spec = public_seed_spec().replace("user_data       = \"examples/apache-user-data.sh\"", &format!("user_data       = \"examples/apache-user-data.sh\"\nsubnet_id       = \"{subnet}\""));
    let w = Workdir::new(&emu, &spec);
    let run = w.expect(&["plan"], 1);
    assert!(run.stderr.contains(&format!("{subnet} assigns no public IPv4 address")) && run.stderr.contains("api.main"), "{}", run.stderr);
    let apply = w.expect(&["apply", "--auto-approve"], 1);
    assert!(apply.stderr.contains("assigns no public IPv4 address"), "{}", apply.stderr);
    let instances = sdk.ec2.describe_instances().send().await.unwrap();
    assert!(instances.reservations().is_empty(), "nothing was launched");
}

#[tokio::test]
async fn drift_reports_an_integration_left_pointing_at_an_address_the_instance_no_longer_has() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &public_seed_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    let instance = w.id_of("instance.backend");
    // Stopped and started in the console: EC2 gives it a new public address.
    sdk.ec2.stop_instances().instance_ids(&instance).send().await.unwrap();
    sdk.ec2.start_instances().instance_ids(&instance).send().await.unwrap();
    let live = sdk.ec2.describe_instances().instance_ids(&instance).send().await.unwrap();
    let dns = live.reservations()[0].instances()[0].public_dns_name().unwrap().to_string();
    let drift = w.run(&["drift"]);
    assert_eq!(drift.code, 2, "{}", drift.stdout);
    assert!(drift.stdout.contains("integration.main (integration): modified"), "{}", drift.stdout);
    assert!(drift.stdout.contains(&format!("-> \"http://{dns}\" (wanted)")), "{}", drift.stdout);
    assert!(drift.stdout.contains("instance.backend"), "names what changed: {}", drift.stdout);
    let json: serde_json::Value = serde_json::from_str(&w.expect(&["drift", "--json"], 2).stdout).unwrap();
    assert_eq!(json["drift"][0]["address"], "integration.main", "{json}");
    w.expect(&["apply", "--auto-approve"], 0);
    let integrations = sdk.apigw.get_integrations().api_id(w.id_of("api.main")).send().await.unwrap();
    assert_eq!(integrations.items()[0].integration_uri(), Some(format!("http://{dns}").as_str()));
    w.expect(&["drift"], 0);
}

fn groups_of(instance: &aws_sdk_ec2::types::Instance) -> Vec<String> {
    instance.security_groups().iter().filter_map(|g| g.group_id().map(str::to_string)).collect()
}

#[tokio::test]
async fn a_replaced_group_is_created_first_and_the_old_one_deleted_once_the_instance_left_it() {
    let emu = Emulator::start();
    emu.configure(serde_json::json!({"group_dependency_violation": true}));
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &ec2_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    let (old, instance) = (w.id_of("security_group.backend"), w.id_of("instance.backend"));
    w.edit_spec("description = \"Job Work Planner backend\"", "description = \"Job Work Planner backend, HTTP only\"");
    let plan = w.plan_json();
    let group = change_of(&plan, "security_group.backend");
    assert_eq!((group["action"].as_str(), group["create_first"].as_bool()), (Some("replace"), Some(true)), "{group}");
    let human = w.expect(&["plan"], 0).stdout;
    assert!(human.contains("+/- security_group.backend"), "{human}");
    let started = std::time::Instant::now();
    w.expect(&["apply", "--auto-approve"], 0);
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "no wait for a DependencyViolation to clear: {:?}", started.elapsed());
    let new = w.id_of("security_group.backend");
    assert_ne!(new, old);
    let live = sdk.ec2.describe_instances().instance_ids(&instance).send().await.unwrap();
    assert_eq!(groups_of(&live.reservations()[0].instances()[0]), vec![new.clone()], "the same instance, moved to the new group");
    assert!(sdk.ec2.describe_security_groups().group_ids(&old).send().await.is_err(), "the old group is deleted");
    let group = sdk.ec2.describe_security_groups().group_ids(&new).send().await.unwrap();
    let group = &group.security_groups()[0];
    assert_eq!(group.description(), Some("Job Work Planner backend, HTTP only"));
    assert!(group.group_name().unwrap_or_default().starts_with("job-work-planner-backend#"), "{:?}", group.group_name());
    assert!(w.state().get("superseded").is_none(), "{}", w.state());
    w.expect(&["plan", "--detailed-exitcode"], 0);
    // Replaced again, the group that replaced the first is itself replaced.
    w.edit_spec("HTTP only\"", "HTTP on port 80\"");
    w.expect(&["apply", "--auto-approve"], 0);
    assert!(sdk.ec2.describe_security_groups().group_ids(&new).send().await.is_err());
    w.expect(&["plan", "--detailed-exitcode"], 0);
}

#[tokio::test]
async fn a_group_a_stopped_run_left_superseded_is_deleted_by_the_next_apply_and_never_adopted() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &ec2_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    let current = w.id_of("security_group.backend");
    let vpc = sdk.ec2.describe_security_groups().group_ids(&current).send().await.unwrap().security_groups()[0].vpc_id().unwrap().to_string();
    // The old group of a create-first replacement whose run stopped before deleting it.
    let tags = aws_sdk_ec2::types::TagSpecification::builder()
        .resource_type(aws_sdk_ec2::types::ResourceType::SecurityGroup)
        .tags(aws_sdk_ec2::types::Tag::builder().key("gwctl:project").value("job-work-planner").build())
        .tags(aws_sdk_ec2::types::Tag::builder().key("gwctl:address").value("security_group.backend").build())
        .build();
    let old = sdk.ec2.create_security_group().group_name("job-work-planner-backend#0ld").description("old").vpc_id(&vpc).tag_specifications(tags.clone()).send().await.unwrap();
    let old = old.group_id().unwrap().to_string();
    let mut state = w.state();
    let entry = serde_json::json!({"address": "security_group.backend", "kind": "security_group", "id": old, "dependencies": [],
        "attributes": {"name": "job-work-planner-backend", "tags": {"gwctl:project": "job-work-planner", "gwctl:address": "security_group.backend"}}});
    state["superseded"] = serde_json::json!([entry]);
    std::fs::write(w.state_path(), serde_json::to_string_pretty(&state).unwrap()).unwrap();

    let plan = w.plan_json();
    let leftover = change_of(&plan, &format!("security_group.backend (superseded {old})"));
    assert_eq!(leftover["action"], "delete", "{leftover}");
    assert_eq!(change_of(&plan, "security_group.backend")["action"], "no-op", "the current group is left as it is");
    w.expect(&["apply", "--auto-approve"], 0);
    assert!(sdk.ec2.describe_security_groups().group_ids(&old).send().await.is_err(), "the superseded group is deleted");
    assert!(sdk.ec2.describe_security_groups().group_ids(&current).send().await.is_ok(), "the current one stays");
    assert_eq!(w.id_of("security_group.backend"), current);
    assert!(w.state().get("superseded").is_none());

    // After a lost state, discovery adopts the current group, not a superseded one.
    let again = sdk.ec2.create_security_group().group_name("job-work-planner-backend#0ld2").description("old").vpc_id(&vpc).tag_specifications(tags).send().await.unwrap();
    let again = again.group_id().unwrap().to_string();
    let mut state = w.state();
    let entry = serde_json::json!({"address": "security_group.backend", "kind": "security_group", "id": again, "dependencies": [],
        "attributes": {"name": "job-work-planner-backend", "tags": {"gwctl:project": "job-work-planner", "gwctl:address": "security_group.backend"}}});
    state["superseded"] = serde_json::json!([entry]);
    state["resources"].as_array_mut().unwrap().retain(|r| r["address"] != "security_group.backend");
    std::fs::write(w.state_path(), serde_json::to_string_pretty(&state).unwrap()).unwrap();
    w.expect(&["apply", "--auto-approve"], 0);
    assert_eq!(w.id_of("security_group.backend"), current, "adopted again");
    assert!(sdk.ec2.describe_security_groups().group_ids(&current).send().await.is_ok());
    assert!(sdk.ec2.describe_security_groups().group_ids(&again).send().await.is_err());
}

#[tokio::test]
async fn the_stack_applies_on_amazon_linux_2023_with_no_end_of_life_finding() {
    const AL2023: &str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let seed = seed_spec();
    // The public seed: its placeholder issuer is a finding (GW007) that every plan must carry.
    let w = Workdir::new(&emu, &public_seed_spec().replace("/aws/service/ami-amazon-linux-latest/amzn2-ami-kernel-5.10-hvm-x86_64-gp2", AL2023));
    let before = Workdir::new(&emu, &seed).expect(&["validate", "--json"], 0).stdout;
    assert!(before.contains("\"GW009\""), "Amazon Linux 2 is flagged: {before}");
    let validate: serde_json::Value = serde_json::from_str(&w.expect(&["validate", "--json"], 0).stdout).unwrap();
    assert!(validate["findings"].as_array().unwrap().iter().all(|f| f["id"] != "GW009"), "{validate}");
    // Every plan carries the findings: in its JSON, or on stderr above it.
    let plan = w.plan_json();
    assert!(plan["findings"].as_array().unwrap().iter().any(|f| f["id"] == "GW007"), "{plan}");
    let human = w.expect(&["plan"], 0);
    assert!(human.stderr.contains("GW007 high") && !human.stdout.contains("GW007"), "{}\n{}", human.stderr, human.stdout);
    w.expect(&["apply", "--auto-approve"], 0);
    let parameter = sdk.ssm.get_parameter().name(AL2023).send().await.unwrap();
    let ami = parameter.parameter().and_then(|p| p.value()).unwrap().to_string();
    let live = sdk.ec2.describe_instances().instance_ids(w.id_of("instance.backend")).send().await.unwrap();
    assert_eq!(live.reservations()[0].instances()[0].image_id(), Some(ami.as_str()));
    w.expect(&["plan", "--detailed-exitcode"], 0);
}

/// The routes the API has, every page read.
async fn route_count(sdk: &Sdk, api: &str) -> usize {
    let (mut routes, mut token) = (0, None);
    loop {
        let page = sdk.apigw.get_routes().api_id(api).set_next_token(token).send().await.unwrap();
        routes += page.items().len();
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return routes;
        }
    }
}

#[tokio::test]
async fn a_large_api_is_applied_within_api_gateways_quota_instead_of_being_throttled() {
    let routes: String = (0..60).map(|i| format!("\"GET /r{i}\" = {{ auth = \"cognito\" }}\n")).collect();
    let spec = format!("{}{routes}", public_seed_spec());
    let quota = serde_json::json!({"apigateway_rate": 20, "apigateway_burst": 10});
    let throttled = |emu: &Emulator| emu.calls()["by_operation"]["throttled"].as_u64().unwrap_or(0);

    // Unpaced, the quota bites: this is what the SDK's retries meet on AWS.
    let emu = Emulator::start();
    emu.configure(quota.clone());
    Workdir::new(&emu, &spec).run(&["apply", "--auto-approve", "--apigateway-rate", "0"]);
    let unpaced = throttled(&emu);
    assert!(unpaced > 10, "the emulated quota throttles an unpaced apply: {unpaced}");

    let emu = Emulator::start();
    emu.configure(quota);
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &spec);
    w.expect(&["apply", "--auto-approve", "--apigateway-rate", "20", "--apigateway-burst", "10"], 0);
    let paced = throttled(&emu);
    assert!(paced <= 2, "paced at the quota, almost nothing is throttled: {paced} (unpaced: {unpaced})");
    assert_eq!(route_count(&sdk, &w.id_of("api.main")).await, 66, "every route was made");
    println!("quota: throttled answers unpaced {unpaced}, paced {paced}");
    w.expect(&["plan", "--detailed-exitcode"], 0);
}

/// A request that waits its turn for longer than the SDK's stalled-upload
/// grace period (5 s) is sent whole, not cut off as stalled and its create
/// sent again as if its answer had been lost.
#[tokio::test]
async fn a_long_wait_for_a_paced_turn_is_not_taken_for_a_lost_answer() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &public_seed_spec());
    // One API Gateway request a second: the routes' creates wait up to ~10 s.
    w.expect(&["apply", "--auto-approve", "--apigateway-rate", "1", "--apigateway-burst", "1"], 0);
    let calls = emu.calls();
    assert_eq!(calls["by_operation"]["apigateway:POST /v2/apis/{id}/routes"], 6, "each route created once: {calls}");
    assert!(calls["by_operation"].get("apigateway:GET /v2/apis/{id}/routes").is_none(), "no create was taken for lost: {calls}");
    assert_eq!(route_count(&sdk, &w.id_of("api.main")).await, 6);
}

/// The account's quota is lower than the one gwctl is told (another tool
/// uses half of it, say): pacing at the documented rate alone meets a
/// throttle answer for every other request; adaptive pacing slows to what
/// AWS grants.
#[tokio::test]
async fn pacing_slows_to_what_aws_grants_when_the_quota_is_shared() {
    let routes: String = (0..60).map(|i| format!("\"GET /r{i}\" = {{ auth = \"cognito\" }}\n")).collect();
    let spec = format!("{}{routes}", public_seed_spec());
    let granted = serde_json::json!({"apigateway_rate": 10, "apigateway_burst": 5});
    let told = ["--apigateway-rate", "20", "--apigateway-burst", "10", "--stats"];
    let throttled = |emu: &Emulator| emu.calls()["by_operation"]["throttled"].as_u64().unwrap_or(0);
    let mut seen = Vec::new();
    for pacing in ["fixed", "adaptive"] {
        let emu = Emulator::start();
        emu.configure(granted.clone());
        let sdk = emu.sdk().await;
        let w = Workdir::new(&emu, &spec);
        let started = std::time::Instant::now();
        let run = w.expect(&[&["apply", "--auto-approve", "--pacing", pacing][..], &told[..]].concat(), 0);
        let seconds = started.elapsed().as_secs_f64();
        let count = throttled(&emu);
        // A create turned away for its rate made nothing: no listing of the
        // API's routes (pages under the same quota) before it is sent again.
        let listed = emu.calls()["by_operation"]["apigateway:GET /v2/apis/{id}/routes"].as_u64().unwrap_or(0);
        assert!(listed <= 3, "{pacing}: {listed} GetRoutes calls for {count} throttled answers");
        assert_eq!(route_count(&sdk, &w.id_of("api.main")).await, 66, "{pacing}: every route was made");
        assert!(run.stderr.contains(&format!("Throttled by apigateway: {count} answer")), "{pacing}: gwctl reports what the emulator counted ({count}): {}", run.stderr);
        println!("shared quota, {pacing} pacing: {count} throttled answers, {seconds:.1} s");
        seen.push((count, run.stderr));
    }
    let (fixed, adaptive) = (seen[0].0, seen[1].0);
    assert!(fixed >= 20, "at twice the granted rate, fixed pacing is throttled often: {fixed}");
    assert!(adaptive * 2 <= fixed, "adaptive pacing is throttled at most half as often: {adaptive} against {fixed}");
    assert!(seen[1].1.contains("paced down to"), "{}", seen[1].1);
}
