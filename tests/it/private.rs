//! The private integration (docs/design.md §8): the seed's backend is
//! reachable only through the API's VPC link and Cloud Map. Read back with
//! the SDK: no world-open ingress, the integration over the link to the
//! Cloud Map service, the instance registered by its private address.

use crate::common::*;

struct Live {
    link: String,
    service_arn: String,
    registered: Vec<(String, String, String)>,
}

/// What AWS has for the seed's private path, checked on the way.
async fn private_path(sdk: &Sdk, w: &Workdir) -> Live {
    let backend = w.id_of("security_group.backend");
    let link_group = w.id_of("security_group.link");
    let group = sdk.ec2.describe_security_groups().group_ids(&backend).send().await.unwrap();
    let ingress = group.security_groups()[0].ip_permissions();
    assert!(ingress.iter().all(|p| p.ip_ranges().is_empty() && p.ipv6_ranges().is_empty()), "no address block may reach the backend: {ingress:?}");
    let sources: Vec<&str> = ingress.iter().flat_map(|p| p.user_id_group_pairs()).filter_map(|g| g.group_id()).collect();
    assert_eq!(sources, vec![link_group.as_str()], "only the link's group reaches it");

    let link = w.id_of("vpc_link.main");
    let live_link = sdk.apigw.get_vpc_link().vpc_link_id(&link).send().await.unwrap();
    assert_eq!(live_link.vpc_link_status().map(|s| s.as_str()), Some("AVAILABLE"));
    assert_eq!(live_link.security_group_ids(), [link_group.clone()]);

    let service = w.id_of("cloudmap_service.main");
    let service_arn = sdk.cloudmap.get_service().id(&service).send().await.unwrap().service().unwrap().arn().unwrap().to_string();
    let api = w.id_of("api.main");
    let integrations = sdk.apigw.get_integrations().api_id(&api).send().await.unwrap();
    let integration = &integrations.items()[0];
    assert_eq!(integrations.items().len(), 1);
    assert_eq!(integration.connection_type().map(|t| t.as_str()), Some("VPC_LINK"));
    assert_eq!(integration.connection_id(), Some(link.as_str()));
    assert_eq!(integration.integration_uri(), Some(service_arn.as_str()));

    let instances = sdk.cloudmap.list_instances().service_id(&service).send().await.unwrap();
    let registered = instances
        .instances()
        .iter()
        .map(|i| {
            let attr = |k: &str| i.attributes().and_then(|a| a.get(k)).cloned().unwrap_or_default();
            (i.id().unwrap_or_default().to_string(), attr("AWS_INSTANCE_IPV4"), attr("AWS_INSTANCE_PORT"))
        })
        .collect();
    Live { link, service_arn, registered }
}

async fn private_ip(sdk: &Sdk, instance: &str) -> String {
    let live = sdk.ec2.describe_instances().instance_ids(instance).send().await.unwrap();
    live.reservations()[0].instances()[0].private_ip_address().unwrap().to_string()
}

#[tokio::test]
async fn the_seed_stack_is_private_and_a_replaced_backend_is_registered_before_the_old_one_goes() {
    let emu = Emulator::start();
    emu.configure(serde_json::json!({"vpc_link_pending_seconds": 1, "vpc_link_release_seconds": 1, "group_dependency_violation": true, "cloudmap_operation_seconds": 1}));
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &seed_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    let instance = w.id_of("instance.backend");
    let live = private_path(&sdk, &w).await;
    assert_eq!(live.registered, vec![(instance.clone(), private_ip(&sdk, &instance).await, "80".to_string())]);
    assert!(emu.calls()["by_operation"]["apigateway:GET /v2/vpclinks/{id}"].as_u64().unwrap_or(0) >= 2, "PENDING was waited out: {}", emu.calls());
    assert!(emu.calls()["by_operation"]["servicediscovery:GetOperation"].as_u64().unwrap_or(0) >= 4, "Cloud Map's operations were waited for: {}", emu.calls());
    w.expect(&["plan", "--detailed-exitcode"], 0);
    w.expect(&["drift"], 0);

    // A new AMI replaces the instance: the new one is registered before the
    // old registration goes, so the service never has none.
    w.edit_spec("amzn2-ami-kernel-5.10-hvm-x86_64-gp2", "al2023-ami-kernel-default-x86_64");
    let run = w.expect(&["apply", "--auto-approve"], 0);
    let registered = run.stdout.find("cloudmap_instance.main: Creation complete").expect("registered");
    let deregistered = run.stdout.find(&format!("cloudmap_instance.main (superseded {instance}): Destroying")).expect("old one deregistered");
    assert!(registered < deregistered, "{}", run.stdout);
    let replaced = w.id_of("instance.backend");
    assert_ne!(replaced, instance);
    let again = private_path(&sdk, &w).await;
    assert_eq!(again.registered, vec![(replaced.clone(), private_ip(&sdk, &replaced).await, "80".to_string())]);
    assert_eq!((again.link, again.service_arn), (live.link.clone(), live.service_arn), "the link and the service stay");
    w.expect(&["plan", "--detailed-exitcode"], 0);

    let started = std::time::Instant::now();
    w.expect(&["destroy", "--auto-approve"], 0);
    assert!(started.elapsed() >= std::time::Duration::from_secs(1), "the link's group waited for its interfaces to go");
    assert!(sdk.apigw.get_vpc_links().send().await.unwrap().items().is_empty());
    assert!(sdk.cloudmap.list_namespaces().send().await.unwrap().namespaces().is_empty());
    assert!(sdk.cloudmap.list_services().send().await.unwrap().services().is_empty());
    assert_eq!(crate::safety::count(&sdk, "job-work-planner").await, crate::safety::KEPT);
}

#[tokio::test]
async fn a_spec_switched_from_public_to_private_and_back_applies_in_place() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &public_seed_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    let integration = w.id_of("integration.main");
    let instance = w.id_of("instance.backend");

    w.write_spec(&seed_spec());
    let plan = w.plan_json();
    let actions = actions(&plan);
    assert!(actions.contains(&("integration.main".to_string(), "update".to_string())), "{actions:?}");
    assert!(actions.contains(&("security_group.backend".to_string(), "update".to_string())), "{actions:?}");
    assert!(!actions.iter().any(|(a, x)| a == "instance.backend" && x != "no-op"), "the backend stays: {actions:?}");
    w.expect(&["apply", "--auto-approve"], 0);
    assert_eq!(w.id_of("integration.main"), integration, "changed in place");
    assert_eq!(w.id_of("instance.backend"), instance);
    private_path(&sdk, &w).await;
    w.expect(&["plan", "--detailed-exitcode"], 0);

    w.write_spec(&public_seed_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    assert_eq!(w.id_of("integration.main"), integration);
    let live = sdk.apigw.get_integration().api_id(w.id_of("api.main")).integration_id(&integration).send().await.unwrap();
    assert_eq!(live.connection_type().map(|t| t.as_str()), Some("INTERNET"));
    assert!(live.integration_uri().unwrap_or_default().starts_with("http://ec2-"), "{:?}", live.integration_uri());
    assert!(sdk.apigw.get_vpc_links().send().await.unwrap().items().is_empty(), "the link is gone");
    assert!(sdk.cloudmap.list_namespaces().send().await.unwrap().namespaces().is_empty());
    w.expect(&["plan", "--detailed-exitcode"], 0);
}

#[tokio::test]
async fn a_lost_state_adopts_the_link_and_cloud_map_and_makes_none_twice() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &seed_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    let before: Vec<String> = ["vpc_link.main", "cloudmap_namespace.main", "cloudmap_service.main", "cloudmap_instance.main"].iter().map(|a| w.id_of(a)).collect();
    for entry in std::fs::read_dir(w.path().join("state")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let plan = w.plan_json();
    let creates: Vec<_> = actions(&plan).into_iter().filter(|(_, a)| a == "create").collect();
    assert!(creates.is_empty(), "everything is adopted: {creates:?}");
    w.expect(&["apply", "--auto-approve"], 0);
    let after: Vec<String> = ["vpc_link.main", "cloudmap_namespace.main", "cloudmap_service.main", "cloudmap_instance.main"].iter().map(|a| w.id_of(a)).collect();
    assert_eq!(after, before);
    assert_eq!(sdk.apigw.get_vpc_links().send().await.unwrap().items().len(), 1);
    assert_eq!(sdk.cloudmap.list_namespaces().send().await.unwrap().namespaces().len(), 1);
    w.expect(&["plan", "--detailed-exitcode"], 0);
}

#[tokio::test]
async fn drift_sees_the_private_path_changed_behind_gwctls_back_and_apply_restores_it() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &seed_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    // Someone deregisters the backend from Cloud Map and opens port 80 to the world.
    let instance = w.id_of("instance.backend");
    sdk.cloudmap.deregister_instance().service_id(w.id_of("cloudmap_service.main")).instance_id(&instance).send().await.unwrap();
    let world = aws_sdk_ec2::types::IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(80)
        .to_port(80)
        .ip_ranges(aws_sdk_ec2::types::IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .build();
    sdk.ec2.authorize_security_group_ingress().group_id(w.id_of("security_group.backend")).ip_permissions(world).send().await.unwrap();

    let run = w.expect(&["drift", "--json"], 2);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let found: Vec<(String, String)> =
        report["drift"].as_array().unwrap().iter().map(|f| (f["address"].as_str().unwrap().to_string(), f["status"].as_str().unwrap().to_string())).collect();
    assert!(found.contains(&("cloudmap_instance.main".to_string(), "deleted".to_string())), "{found:?}");
    assert!(found.iter().any(|(a, s)| a.starts_with("security_group.backend") && (s == "modified" || s == "unmanaged")), "{found:?}");
    w.expect(&["apply", "--auto-approve"], 0);
    w.expect(&["drift"], 0);
    private_path(&sdk, &w).await;
}

/// The private seed in us-east-1, whose default subnets include use1-az3,
/// where VPC links are not offered: the link is made in the other five
/// zones at the first try, though its first CreateVpcLink is answered 429,
/// and later replaced without a request AWS refuses for what still uses it.
#[tokio::test]
async fn in_us_east_1_the_link_avoids_unoffered_zones_survives_a_429_and_is_replaced_create_first() {
    let emu = Emulator::start();
    emu.configure(serde_json::json!({
        "vpc_link_pending_seconds": 1,
        "vpc_link_release_seconds": 1,
        "group_dependency_violation": true,
        "apigateway_operation_quotas": true,
        "faults": [{"operation": "apigateway:POST /v2/vpclinks", "error": "throttle", "count": 1}],
    }));
    let sdk = emu.sdk_in("us-east-1").await;
    let spec = seed_spec().replace("region = \"ap-south-1\"", "region = \"us-east-1\"");
    let w = Workdir::new(&emu, &spec);
    w.expect(&["apply", "--auto-approve"], 0);
    let calls = emu.calls();
    assert_eq!(calls["by_operation"]["apigateway:POST /v2/vpclinks"], 2, "the throttled create was sent once more: {calls}");
    assert_eq!(calls["by_operation"]["throttled"], serde_json::Value::Null, "the retry waited out CreateVpcLink's own quota: {calls}");
    let link = w.id_of("vpc_link.main");
    let live = sdk.apigw.get_vpc_link().vpc_link_id(&link).send().await.unwrap();
    let subnets = sdk.ec2.describe_subnets().set_subnet_ids(Some(live.subnet_ids().to_vec())).send().await.unwrap();
    let mut zones: Vec<&str> = subnets.subnets().iter().filter_map(|s| s.availability_zone_id()).collect();
    zones.sort();
    assert_eq!(zones, ["use1-az1", "use1-az2", "use1-az4", "use1-az5", "use1-az6"]);
    assert_eq!(sdk.apigw.get_vpc_links().send().await.unwrap().items().len(), 1);
    w.expect(&["plan", "--detailed-exitcode"], 0);

    // A new description replaces the link's group, and so the link: the new
    // one first, the integration moved to it, the old one deleted last.
    emu.control("POST", "/_emulator/calls/reset", "");
    w.edit_spec("description = \"API Gateway VPC link to the Job Work Planner backend\"", "description = \"API Gateway VPC link to the backend\"");
    let planned = actions(&w.plan_json());
    assert!(planned.contains(&("vpc_link.main".to_string(), "replace".to_string())), "{planned:?}");
    assert!(planned.contains(&("integration.main".to_string(), "update".to_string())), "{planned:?}");
    let run = w.expect(&["apply", "--auto-approve"], 0);
    let created = run.stdout.find("vpc_link.main: Creation complete").expect("a new link");
    let moved = run.stdout.find("integration.main: Modifications complete").expect("the integration moved");
    let deleted = run.stdout.find(&format!("vpc_link.main (superseded {link}): Destruction complete")).expect("the old link deleted");
    assert!(created < moved && moved < deleted, "{}", run.stdout);
    let links = sdk.apigw.get_vpc_links().send().await.unwrap();
    let ids: Vec<&str> = links.items().iter().filter_map(|l| l.vpc_link_id()).collect();
    let new = w.id_of("vpc_link.main");
    assert_eq!(ids, [new.as_str()], "exactly one link at the end");
    assert_ne!(new, link);
    let integration = &sdk.apigw.get_integrations().api_id(w.id_of("api.main")).send().await.unwrap().items()[0].clone();
    assert_eq!(integration.connection_id(), Some(new.as_str()));
    let refused: Vec<String> = emu.refused().into_keys().filter(|k| !k.ends_with("NotFoundException") && !k.contains(" InvalidGroup.NotFound")).collect();
    assert_eq!(refused, Vec::<String>::new(), "no request refused for what still used it (DeleteVpcLink, DeleteSecurityGroup)");
    assert!(emu.calls()["by_operation"]["ec2:DescribeNetworkInterfaces"].as_u64().unwrap_or(0) >= 2, "the released interfaces were waited out: {}", emu.calls());
    w.expect(&["plan", "--detailed-exitcode"], 0);
    w.expect(&["drift"], 0);
    w.expect(&["destroy", "--auto-approve"], 0);
    assert!(sdk.apigw.get_vpc_links().send().await.unwrap().items().is_empty());
}
