//! The EC2 side of the stack against the emulator: apply from nothing, no-op
//! re-plan, update in place, replacement, deletion on removal, destroy. Each
//! result is read back from the emulator with the AWS SDK.


use std::os::unix::fs::PermissionsExt;

use aws_sdk_ec2::types::Filter;
use crate::common::*;

const AMI_PARAMETER: &str = "/aws/service/ami-amazon-linux-latest/amzn2-ami-kernel-5.10-hvm-x86_64-gp2";

async fn instance(sdk: &Sdk, id: &str) -> aws_sdk_ec2::types::Instance {
    let out = sdk.ec2.describe_instances().instance_ids(id).send().await.expect("DescribeInstances");
    out.reservations()[0].instances()[0].clone()
}

#[tokio::test]
async fn apply_creates_the_ec2_side_as_declared_and_replans_clean() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &ec2_spec());

    let run = w.expect(&["apply", "--auto-approve"], 0);
    assert!(run.stdout.contains("Apply complete"), "{}", run.stdout);
    assert!(run.stdout.contains("5 added, 0 changed, 0 destroyed"), "{}", run.stdout);

    // IAM: EC2 trust, SSM managed policy, profile carrying the role.
    let role = sdk.iam.get_role().role_name("job-work-planner-backend").send().await.expect("role exists");
    let trust = urlencoding::decode(role.role().unwrap().assume_role_policy_document().unwrap()).unwrap().into_owned();
    assert!(trust.contains("ec2.amazonaws.com") && trust.contains("sts:AssumeRole"), "{trust}");
    let attached = sdk.iam.list_attached_role_policies().role_name("job-work-planner-backend").send().await.unwrap();
    let arns: Vec<&str> = attached.attached_policies().iter().filter_map(|p| p.policy_arn()).collect();
    assert_eq!(arns, vec!["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"]);
    let profile = sdk.iam.get_instance_profile().instance_profile_name("job-work-planner-backend").send().await.expect("profile exists");
    let roles: Vec<&str> = profile.instance_profile().unwrap().roles().iter().map(|r| r.role_name()).collect();
    assert_eq!(roles, vec!["job-work-planner-backend"]);

    // Security group: exactly the declared rules.
    let sg_id = w.id_of("security_group.backend");
    let sg = sdk.ec2.describe_security_groups().group_ids(&sg_id).send().await.unwrap().security_groups()[0].clone();
    let ingress: Vec<(String, Option<i32>, String)> = sg
        .ip_permissions()
        .iter()
        .flat_map(|p| p.ip_ranges().iter().map(move |r| (p.ip_protocol().unwrap().to_string(), p.from_port(), r.cidr_ip().unwrap().to_string())))
        .collect();
    assert_eq!(ingress, vec![("tcp".to_string(), Some(80), "0.0.0.0/0".to_string())]);
    let egress: Vec<&str> = sg.ip_permissions_egress().iter().filter_map(|p| p.ip_protocol()).collect();
    assert_eq!(egress, vec!["-1"]);

    // Instance: AMI from SSM, running, IMDSv2, encrypted root, profile, group, tags.
    let ami = sdk.ssm.get_parameter().name(AMI_PARAMETER).send().await.unwrap().parameter().unwrap().value().unwrap().to_string();
    let inst = instance(&sdk, &w.id_of("instance.backend")).await;
    assert_eq!(inst.image_id(), Some(ami.as_str()));
    assert_eq!(inst.state().and_then(|s| s.name()).map(|n| n.as_str()), Some("running"));
    assert_eq!(inst.metadata_options().and_then(|m| m.http_tokens()).map(|t| t.as_str()), Some("required"));
    assert!(inst.iam_instance_profile().and_then(|p| p.arn()).unwrap().ends_with("/job-work-planner-backend"));
    let groups: Vec<&str> = inst.security_groups().iter().filter_map(|g| g.group_id()).collect();
    assert_eq!(groups, vec![sg_id.as_str()]);
    let root = inst.block_device_mappings()[0].ebs().unwrap().volume_id().unwrap().to_string();
    let volume = sdk.ec2.describe_volumes().volume_ids(&root).send().await.unwrap().volumes()[0].clone();
    assert_eq!(volume.encrypted(), Some(true));
    let tags: std::collections::BTreeMap<&str, &str> = inst.tags().iter().map(|t| (t.key().unwrap(), t.value().unwrap())).collect();
    assert_eq!(tags.get("gwctl:project"), Some(&"job-work-planner"));
    assert_eq!(tags.get("gwctl:address"), Some(&"instance.backend"));
    assert_eq!(tags.get("Project"), Some(&"job-work-planner"));
    let user_data = sdk
        .ec2
        .describe_instance_attribute()
        .instance_id(inst.instance_id().unwrap())
        .attribute(aws_sdk_ec2::types::InstanceAttributeName::UserData)
        .send()
        .await
        .unwrap();
    use base64::Engine;
    let script = base64::engine::general_purpose::STANDARD.decode(user_data.user_data().unwrap().value().unwrap()).unwrap();
    assert!(String::from_utf8_lossy(&script).contains("yum install -y httpd"));

    // Log group with its retention and tags.
    let groups = sdk.logs.describe_log_groups().log_group_name_prefix("/aws/vendedlogs/apigateway/job-work-planner").send().await.unwrap();
    assert_eq!(groups.log_groups()[0].retention_in_days(), Some(30));

    // The state: atomic write left a backup, mode 0600, no user data text in it.
    let mode = std::fs::metadata(w.state_path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(w.path().join("state/job-work-planner.json.backup").exists());
    assert!(!std::fs::read_to_string(w.state_path()).unwrap().contains("httpd"));
    assert!(w.state()["serial"].as_u64().unwrap() >= 5, "the state is saved after every resource");

    // A second plan right after apply: no changes.
    let plan = w.expect(&["plan", "--detailed-exitcode"], 0);
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);

    // Outputs come from the state.
    let out = w.expect(&["output", "--json"], 0);
    let outputs: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(outputs["instance_id"], inst.instance_id().unwrap());
    assert_eq!(outputs["instance_public_ip"], inst.public_ip_address().unwrap());
    assert_eq!(outputs["instance_public_dns"], inst.public_dns_name().unwrap());
    let raw = w.expect(&["output", "--raw", "instance_public_ip"], 0);
    assert_eq!(raw.stdout.trim(), inst.public_ip_address().unwrap());
}

#[tokio::test]
async fn changes_plan_as_update_replace_and_delete_and_apply_does_them() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &ec2_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    let first_instance = w.id_of("instance.backend");

    // Retention: one in-place update.
    w.edit_spec("retention_days = 30", "retention_days = 60");
    let plan = w.plan_json();
    assert_eq!(actions(&plan), vec![("log_group.api_access".to_string(), "update".to_string())]);
    let diff = &plan["changes"].as_array().unwrap().iter().find(|c| c["action"] == "update").unwrap()["diff"];
    assert_eq!(diff[0]["path"], "retention_days");
    assert_eq!((diff[0]["before"].as_i64(), diff[0]["after"].as_i64()), (Some(30), Some(60)));
    assert_eq!(w.run(&["plan", "--detailed-exitcode"]).code, 2);
    w.expect(&["apply", "--auto-approve"], 0);
    let groups = sdk.logs.describe_log_groups().log_group_name_prefix("/aws/vendedlogs/apigateway/job-work-planner").send().await.unwrap();
    assert_eq!(groups.log_groups()[0].retention_in_days(), Some(60));
    assert_eq!(w.id_of("instance.backend"), first_instance, "an unrelated update must not touch the instance");

    // Instance type: in place, same instance.
    w.edit_spec("instance_type   = \"t3.micro\"", "instance_type   = \"t3.small\"");
    assert_eq!(actions(&w.plan_json()), vec![("instance.backend".to_string(), "update".to_string())]);
    w.expect(&["apply", "--auto-approve"], 0);
    let inst = instance(&sdk, &first_instance).await;
    assert_eq!(inst.instance_type().map(|t| t.as_str()), Some("t3.small"));
    assert_eq!(inst.state().and_then(|s| s.name()).map(|n| n.as_str()), Some("running"));

    // AMI: replacement, forced by `ami`.
    let images = sdk.ec2.describe_images().owners("amazon").send().await.unwrap();
    let current = inst.image_id().unwrap().to_string();
    let other = images.images().iter().filter_map(|i| i.image_id()).find(|id| *id != current).unwrap().to_string();
    let spec = w.spec();
    let ami_line = spec.lines().find(|l| l.starts_with("ami ")).unwrap().to_string();
    w.edit_spec(&ami_line, &format!("ami = \"{other}\""));
    let plan = w.plan_json();
    assert_eq!(actions(&plan), vec![("instance.backend".to_string(), "replace".to_string())]);
    let change = plan["changes"].as_array().unwrap().iter().find(|c| c["action"] == "replace").unwrap().clone();
    let ami_diff = change["diff"].as_array().unwrap().iter().find(|d| d["path"] == "ami").unwrap().clone();
    assert_eq!(ami_diff["forces_replacement"], true);
    let human = w.expect(&["plan"], 0);
    assert!(human.stdout.contains("-/+ instance.backend"), "{}", human.stdout);
    assert!(human.stdout.contains("# forces replacement"), "{}", human.stdout);
    w.expect(&["apply", "--auto-approve"], 0);
    let second_instance = w.id_of("instance.backend");
    assert_ne!(second_instance, first_instance);
    assert_eq!(instance(&sdk, &second_instance).await.image_id(), Some(other.as_str()));
    let old = instance(&sdk, &first_instance).await;
    assert_eq!(old.state().and_then(|s| s.name()).map(|n| n.as_str()), Some("terminated"));

    // Removing the log group from the spec: one delete.
    let spec = w.spec();
    let cut = spec.find("[log_group.api_access]").unwrap();
    w.write_spec(&spec[..cut]);
    assert_eq!(actions(&w.plan_json()), vec![("log_group.api_access".to_string(), "delete".to_string())]);
    w.expect(&["apply", "--auto-approve"], 0);
    let groups = sdk.logs.describe_log_groups().log_group_name_prefix("/aws/vendedlogs/apigateway/job-work-planner").send().await.unwrap();
    assert!(groups.log_groups().is_empty());
    w.expect(&["plan", "--detailed-exitcode"], 0);
}

#[tokio::test]
async fn destroy_removes_everything_in_reverse_order_and_empties_the_state() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &ec2_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    let instance_id = w.id_of("instance.backend");
    let sg_id = w.id_of("security_group.backend");

    let run = w.expect(&["destroy", "--auto-approve"], 0);
    assert!(run.stdout.contains("4 destroyed; kept in AWS: log_group.api_access"), "{}", run.stdout);
    let terminated = run.stdout.find("instance.backend: Destruction complete").unwrap();
    for later in ["security_group.backend: Destroying", "instance_profile.backend: Destroying", "role.backend: Destroying"] {
        assert!(run.stdout.find(later).unwrap() > terminated, "{later} must start after the instance is gone:\n{}", run.stdout);
    }
    assert_eq!(instance(&sdk, &instance_id).await.state().and_then(|s| s.name()).map(|n| n.as_str()), Some("terminated"));
    let sgs = sdk.ec2.describe_security_groups().filters(Filter::builder().name("group-id").values(&sg_id).build()).send().await.unwrap();
    assert!(sgs.security_groups().is_empty());
    assert!(sdk.iam.get_role().role_name("job-work-planner-backend").send().await.is_err());
    assert!(sdk.iam.get_instance_profile().instance_profile_name("job-work-planner-backend").send().await.is_err());
    let groups = sdk.logs.describe_log_groups().log_group_name_prefix("/aws/vendedlogs/apigateway/job-work-planner").send().await.unwrap();
    assert_eq!(groups.log_groups().len(), 1, "the access logs are kept (retain_on_destroy)");
    assert_eq!(w.state()["resources"], serde_json::json!([]));
    // Nothing left to destroy: a second destroy is a no-op.
    w.expect(&["destroy", "--auto-approve"], 0);
}

#[tokio::test]
async fn security_group_rules_are_authoritative() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &ec2_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    let sg_id = w.id_of("security_group.backend");
    sdk.open_port_22(&sg_id).await;
    assert_eq!(actions(&w.plan_json()), vec![("security_group.backend".to_string(), "update".to_string())]);
    w.expect(&["apply", "--auto-approve"], 0);
    let sg = sdk.ec2.describe_security_groups().group_ids(&sg_id).send().await.unwrap().security_groups()[0].clone();
    let ports: Vec<Option<i32>> = sg.ip_permissions().iter().map(|p| p.from_port()).collect();
    assert_eq!(ports, vec![Some(80)], "the rule opened outside gwctl is revoked");
}

#[tokio::test]
async fn run_instances_waits_out_a_new_instance_profile_that_ec2_cannot_see_yet() {
    let emu = Emulator::start();
    emu.configure(serde_json::json!({"profile_visibility_seconds": 2}));
    let w = Workdir::new(&emu, &ec2_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    let calls = emu.calls();
    let run_instances = calls["by_operation"]["ec2:RunInstances"].as_u64().unwrap_or(0);
    assert!(run_instances >= 2, "RunInstances was retried while the profile propagated: {calls}");
    let sdk = emu.sdk().await;
    let running = sdk
        .ec2
        .describe_instances()
        .filters(Filter::builder().name("tag:gwctl:address").values("instance.backend").build())
        .filters(Filter::builder().name("instance-state-name").values("running").build())
        .send()
        .await
        .unwrap();
    let count: usize = running.reservations().iter().map(|r| r.instances().len()).sum();
    assert_eq!(count, 1, "retries launch exactly one instance");
}

#[tokio::test]
async fn a_new_ami_behind_an_ssm_parameter_does_not_replace_the_instance() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let images = sdk.ec2.describe_images().owners("amazon").send().await.unwrap();
    let ids: Vec<String> = images.images().iter().filter_map(|i| i.image_id().map(str::to_string)).take(2).collect();
    let put = |value: String| {
        sdk.ssm.put_parameter().name("/golden/backend-ami").value(value).r#type(aws_sdk_ssm::types::ParameterType::String).overwrite(true).send()
    };
    put(ids[0].clone()).await.unwrap();
    let spec = ec2_spec();
    let ami_line = spec.lines().find(|l| l.starts_with("ami ")).unwrap().to_string();
    let w = Workdir::new(&emu, &spec.replacen(&ami_line, "ami = \"ssm:/golden/backend-ami\"", 1));
    w.expect(&["apply", "--auto-approve"], 0);
    let first = w.id_of("instance.backend");
    put(ids[1].clone()).await.unwrap();
    w.expect(&["plan", "--detailed-exitcode"], 0);
    w.expect(&["apply", "--auto-approve"], 0);
    assert_eq!(w.id_of("instance.backend"), first);
    assert_eq!(instance(&sdk, &first).await.image_id(), Some(ids[0].as_str()));
}

#[tokio::test]
async fn apply_without_auto_approve_and_no_terminal_refuses_and_changes_nothing() {
    let emu = Emulator::start();
    let w = Workdir::new(&emu, &ec2_spec());
    let run = w.expect(&["apply"], 1);
    assert!(run.stderr.contains("--auto-approve"), "{}", run.stderr);
    let calls = emu.calls();
    let writes: Vec<&String> = calls["by_operation"].as_object().unwrap().keys().filter(|k| k.contains("Create") || k.contains("Run")).collect();
    assert!(writes.is_empty(), "no create call was made: {calls}");
}
