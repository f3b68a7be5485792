//! The whole seed stack, API Gateway side included, against the emulator.
//! Routes, integration, authorizer and stage are read back with the SDK.


use std::collections::BTreeMap;

use crate::common::*;

struct Api {
    routes: BTreeMap<String, aws_sdk_apigatewayv2::types::Route>,
    integrations: Vec<aws_sdk_apigatewayv2::types::Integration>,
    authorizers: Vec<aws_sdk_apigatewayv2::types::Authorizer>,
    stage: aws_sdk_apigatewayv2::types::Stage,
}

async fn public_dns(sdk: &Sdk, instance_id: &str) -> String {
    let out = sdk.ec2.describe_instances().instance_ids(instance_id).send().await.unwrap();
    out.reservations()[0].instances()[0].public_dns_name().unwrap().to_string()
}

async fn read_api(sdk: &Sdk, api_id: &str) -> Api {
    let mut routes = BTreeMap::new();
    let mut token = None;
    loop {
        let page = sdk.apigw.get_routes().api_id(api_id).set_next_token(token).send().await.unwrap();
        for r in page.items() {
            routes.insert(r.route_key().unwrap().to_string(), r.clone());
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let integrations = sdk.apigw.get_integrations().api_id(api_id).send().await.unwrap().items().to_vec();
    let authorizers = sdk.apigw.get_authorizers().api_id(api_id).send().await.unwrap().items().to_vec();
    let stage = sdk.apigw.get_stage().api_id(api_id).stage_name("$default").send().await.unwrap();
    let stage = aws_sdk_apigatewayv2::types::Stage::builder()
        .stage_name(stage.stage_name().unwrap())
        .set_auto_deploy(stage.auto_deploy())
        .set_default_route_settings(stage.default_route_settings().cloned())
        .set_access_log_settings(stage.access_log_settings().cloned())
        .build();
    Api { routes, integrations, authorizers, stage }
}

#[tokio::test]
async fn the_seed_stack_applies_with_jwt_routes_a_public_health_check_throttling_and_access_logs() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &public_seed_spec());
    let run = w.expect(&["apply", "--auto-approve"], 0);
    assert!(run.stdout.contains("Apply complete"), "{}", run.stdout);

    let api_id = w.id_of("api.main");
    let api = read_api(&sdk, &api_id).await;
    let dns = public_dns(&sdk, &w.id_of("instance.backend")).await;

    // One JWT authorizer with the spec's issuer, audience and identity source.
    assert_eq!(api.authorizers.len(), 1);
    let auth = &api.authorizers[0];
    assert_eq!(auth.authorizer_type().map(|t| t.as_str()), Some("JWT"));
    assert_eq!(auth.identity_source(), ["$request.header.Authorization".to_string()]);
    let jwt = auth.jwt_configuration().unwrap();
    assert_eq!(jwt.issuer(), Some("https://cognito-idp.ap-south-1.amazonaws.com/ap-south-1_EXAMPLE"));
    assert_eq!(jwt.audience(), ["example-app-client-id".to_string()]);

    // One HTTP_PROXY integration to the instance that keeps the request path.
    assert_eq!(api.integrations.len(), 1);
    let integ = &api.integrations[0];
    assert_eq!(integ.integration_type().map(|t| t.as_str()), Some("HTTP_PROXY"));
    assert_eq!(integ.integration_uri(), Some(format!("http://{dns}").as_str()));
    assert_eq!(integ.request_parameters().and_then(|p| p.get("overwrite:path")).map(String::as_str), Some("$request.path"));
    let target = format!("integrations/{}", integ.integration_id().unwrap());

    // Routes: /health public, the business routes behind the authorizer.
    let keys: Vec<&str> = api.routes.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        vec!["ANY /attachments/{proxy+}", "ANY /auth/{proxy+}", "ANY /jobs/{proxy+}", "ANY /masters/{proxy+}", "ANY /reports/{proxy+}", "GET /health"]
    );
    for (key, route) in &api.routes {
        assert_eq!(route.target(), Some(target.as_str()), "{key}");
        if key == "GET /health" {
            assert_eq!(route.authorization_type().map(|t| t.as_str()), Some("NONE"), "{key}");
            assert_eq!(route.authorizer_id().filter(|s| !s.is_empty()), None, "{key}");
        } else {
            assert_eq!(route.authorization_type().map(|t| t.as_str()), Some("JWT"), "{key}");
            assert_eq!(route.authorizer_id(), auth.authorizer_id(), "{key}");
        }
    }

    // Stage: $default, auto-deploy, 100 rps / burst 200, JSON access logs to the log group.
    assert_eq!(api.stage.auto_deploy(), Some(true));
    let settings = api.stage.default_route_settings().unwrap();
    assert_eq!(settings.throttling_rate_limit(), Some(100.0));
    assert_eq!(settings.throttling_burst_limit(), Some(200));
    let logs = api.stage.access_log_settings().unwrap();
    let group = sdk.logs.describe_log_groups().log_group_name_prefix("/aws/vendedlogs/apigateway/job-work-planner").send().await.unwrap();
    let group_arn = group.log_groups()[0].arn().unwrap().trim_end_matches(":*").to_string();
    assert_eq!(logs.destination_arn(), Some(group_arn.as_str()));
    let format: serde_json::Value = serde_json::from_str(logs.format().unwrap()).expect("access log format is JSON");
    assert_eq!(format["requestId"], "$context.requestId");

    // Outputs and a clean re-plan.
    let out: serde_json::Value = serde_json::from_str(&w.expect(&["output", "--json"], 0).stdout).unwrap();
    assert_eq!(out["api_id"], api_id.as_str());
    let endpoint = sdk.apigw.get_api().api_id(&api_id).send().await.unwrap().api_endpoint().unwrap().to_string();
    assert_eq!(out["api_endpoint"], endpoint.as_str());
    assert_eq!(w.expect(&["output", "--raw", "api_endpoint"], 0).stdout.trim(), endpoint);
    w.expect(&["plan", "--detailed-exitcode"], 0);

    // Destroy: API side first, then the EC2 side; nothing tagged remains.
    let run = w.expect(&["destroy", "--auto-approve"], 0);
    let api_gone = run.stdout.find("api.main: Destruction complete").unwrap();
    assert!(run.stdout.find("instance.backend: Destroying").unwrap() > run.stdout.find("integration.main: Destruction complete").unwrap());
    assert!(run.stdout.find("route.main[\"GET /health\"]: Destruction complete").unwrap() < api_gone);
    assert!(sdk.apigw.get_api().api_id(&api_id).send().await.is_err());
    let tagged = sdk
        .ec2
        .describe_instances()
        .filters(aws_sdk_ec2::types::Filter::builder().name("tag:gwctl:project").values("job-work-planner").build())
        .filters(aws_sdk_ec2::types::Filter::builder().name("instance-state-name").values("running").values("pending").values("stopped").build())
        .send()
        .await
        .unwrap();
    assert!(tagged.reservations().is_empty());
    assert_eq!(w.state()["resources"], serde_json::json!([]));
}

#[tokio::test]
async fn api_changes_plan_as_single_updates_creates_and_deletes() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &public_seed_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    let api_id = w.id_of("api.main");

    // Throttle: one in-place update of the stage.
    w.edit_spec("throttle    = { rate = 100, burst = 200 }", "throttle    = { rate = 50, burst = 80 }");
    assert_eq!(actions(&w.plan_json()), vec![("stage.main".to_string(), "update".to_string())]);
    w.expect(&["apply", "--auto-approve"], 0);
    let settings = read_api(&sdk, &api_id).await.stage.default_route_settings().cloned().unwrap();
    assert_eq!((settings.throttling_rate_limit(), settings.throttling_burst_limit()), (Some(50.0), Some(80)));

    // Add a route: one create. Remove it: one delete.
    w.edit_spec("\"GET /health\"               = { auth = \"none\" }", "\"GET /health\" = { auth = \"none\" }\n\"GET /version\" = { auth = \"none\" }");
    assert_eq!(actions(&w.plan_json()), vec![("route.main[\"GET /version\"]".to_string(), "create".to_string())]);
    w.expect(&["apply", "--auto-approve"], 0);
    assert!(read_api(&sdk, &api_id).await.routes.contains_key("GET /version"));
    w.edit_spec("\n\"GET /version\" = { auth = \"none\" }", "");
    assert_eq!(actions(&w.plan_json()), vec![("route.main[\"GET /version\"]".to_string(), "delete".to_string())]);
    w.expect(&["apply", "--auto-approve"], 0);
    assert!(!read_api(&sdk, &api_id).await.routes.contains_key("GET /version"));

    // cognito -> none: one update that really clears the authorizer.
    w.edit_spec("\"ANY /reports/{proxy+}\"     = { auth = \"cognito\" }", "\"ANY /reports/{proxy+}\"     = { auth = \"none\" }");
    assert_eq!(actions(&w.plan_json()), vec![("route.main[\"ANY /reports/{proxy+}\"]".to_string(), "update".to_string())]);
    w.expect(&["apply", "--auto-approve"], 0);
    let route = read_api(&sdk, &api_id).await.routes["ANY /reports/{proxy+}"].clone();
    assert_eq!(route.authorization_type().map(|t| t.as_str()), Some("NONE"));
    assert_eq!(route.authorizer_id().filter(|s| !s.is_empty()), None);

    // Audience: one in-place update of the authorizer.
    w.edit_spec("audience = [\"example-app-client-id\"]", "audience = [\"new-client-id\"]");
    assert_eq!(actions(&w.plan_json()), vec![("authorizer.main.cognito".to_string(), "update".to_string())]);
    w.expect(&["apply", "--auto-approve"], 0);
    let auth = read_api(&sdk, &api_id).await.authorizers[0].clone();
    assert_eq!(auth.jwt_configuration().unwrap().audience(), ["new-client-id".to_string()]);
    w.expect(&["plan", "--detailed-exitcode"], 0);
}

#[tokio::test]
async fn a_replaced_instance_takes_the_integration_with_it_in_the_same_apply() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &public_seed_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    let images = sdk.ec2.describe_images().owners("amazon").send().await.unwrap();
    let pinned = w.state()["resources"].as_array().unwrap().iter().find(|r| r["address"] == "instance.backend").unwrap()["attributes"]["ami"].clone();
    let other = images.images().iter().filter_map(|i| i.image_id()).find(|id| Some(*id) != pinned.as_str()).unwrap().to_string();
    let spec = w.spec();
    let ami_line = spec.lines().find(|l| l.starts_with("ami ")).unwrap().to_string();
    w.edit_spec(&ami_line, &format!("ami = \"{other}\""));

    let plan = w.plan_json();
    assert_eq!(
        actions(&plan),
        vec![("instance.backend".to_string(), "replace".to_string()), ("integration.main".to_string(), "update".to_string())]
    );
    let human = w.expect(&["plan"], 0).stdout;
    assert!(human.contains("~ uri") && human.contains("(known after apply)"), "{human}");

    w.expect(&["apply", "--auto-approve"], 0);
    let dns = public_dns(&sdk, &w.id_of("instance.backend")).await;
    let api = read_api(&sdk, &w.id_of("api.main")).await;
    assert_eq!(api.integrations[0].integration_uri(), Some(format!("http://{dns}").as_str()));
    w.expect(&["plan", "--detailed-exitcode"], 0);
}

#[tokio::test]
async fn routes_integrations_and_authorizers_not_in_the_spec_are_deleted_from_a_managed_api() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &public_seed_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    let api_id = w.id_of("api.main");
    let stray = sdk
        .apigw
        .create_integration()
        .api_id(&api_id)
        .integration_type(aws_sdk_apigatewayv2::types::IntegrationType::HttpProxy)
        .integration_method("ANY")
        .integration_uri("http://attacker.example")
        .payload_format_version("1.0")
        .send()
        .await
        .unwrap();
    sdk.apigw
        .create_route()
        .api_id(&api_id)
        .route_key("POST /debug")
        .target(format!("integrations/{}", stray.integration_id().unwrap()))
        .send()
        .await
        .unwrap();
    sdk.apigw
        .create_authorizer()
        .api_id(&api_id)
        .name("permissive")
        .authorizer_type(aws_sdk_apigatewayv2::types::AuthorizerType::Jwt)
        .identity_source("$request.header.Authorization")
        .jwt_configuration(aws_sdk_apigatewayv2::types::JwtConfiguration::builder().issuer("https://example.com").audience("x").build())
        .send()
        .await
        .unwrap();

    let mut planned = actions(&w.plan_json());
    planned.sort();
    assert_eq!(
        planned,
        vec![
            ("authorizer.main[\"permissive\"]".to_string(), "delete".to_string()),
            (format!("integration.main[\"{}\"]", stray.integration_id().unwrap()), "delete".to_string()),
            ("route.main[\"POST /debug\"]".to_string(), "delete".to_string()),
        ]
    );
    w.expect(&["apply", "--auto-approve"], 0);
    let api = read_api(&sdk, &api_id).await;
    assert!(!api.routes.contains_key("POST /debug"));
    assert_eq!(api.integrations.len(), 1);
    assert_eq!(api.authorizers.len(), 1);
    w.expect(&["plan", "--detailed-exitcode"], 0);
}
