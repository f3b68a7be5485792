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
    let w = Workdir::new(&emu, &seed_spec());
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
