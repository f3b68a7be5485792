//! Identity and proof (docs/design.md §9): the seed makes its own Cognito
//! user pool and client, its authorizer trusts exactly them, and `gwctl
//! verify` proves through the emulator's data plane that the live stack
//! does what the seed promises, and names what breaks when it does not.

use crate::common::*;

/// The seed applied as it is (its pool protected from deletion).
async fn applied_seed(emu: &Emulator) -> Workdir {
    let w = Workdir::new(emu, &repo_seed_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    w
}

/// The password of the person [`ops_token`] signs in.
const OPS_PASSWORD: &str = "Ops-Passw0rd!x";

/// An access token of a person in the pool, as an operator gets one.
async fn ops_token(sdk: &Sdk, pool: &str, client: &str) -> String {
    sdk.cognito.admin_create_user().user_pool_id(pool).username("ops").message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress).send().await.unwrap();
    sdk.cognito.admin_set_user_password().user_pool_id(pool).username("ops").password(OPS_PASSWORD).permanent(true).send().await.unwrap();
    let auth = sdk
        .cognito
        .admin_initiate_auth()
        .user_pool_id(pool)
        .client_id(client)
        .auth_flow(aws_sdk_cognitoidentityprovider::types::AuthFlowType::AdminUserPasswordAuth)
        .auth_parameters("USERNAME", "ops")
        .auth_parameters("PASSWORD", OPS_PASSWORD)
        .send()
        .await
        .unwrap();
    auth.authentication_result().unwrap().access_token().unwrap().to_string()
}

fn failing(checks: &std::collections::BTreeMap<String, (bool, String)>) -> Vec<&str> {
    checks.iter().filter(|(_, (ok, _))| !ok).map(|(name, _)| name.as_str()).collect()
}

#[tokio::test]
async fn the_seed_makes_its_own_pool_and_verify_proves_the_stack_then_destroy_stops_at_the_protected_pool() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = applied_seed(&emu).await;

    // The pool and its client, as AWS has them.
    let pool = w.id_of("user_pool.main");
    let client = w.id_of("user_pool_client.main.web");
    let live = sdk.cognito.describe_user_pool().user_pool_id(&pool).send().await.unwrap();
    let live = live.user_pool().unwrap();
    assert_eq!(live.deletion_protection().map(|d| d.as_str()), Some("ACTIVE"));
    assert_eq!(live.mfa_configuration().map(|m| m.as_str()), Some("OPTIONAL"));
    assert!(live.admin_create_user_config().unwrap().allow_admin_create_user_only(), "no self sign-up");
    let policy = live.policies().unwrap().password_policy().unwrap();
    assert!(policy.minimum_length().unwrap() >= 12 && policy.require_symbols() && policy.require_numbers());
    assert_eq!(live.user_pool_tags().unwrap().get("gwctl:address").map(String::as_str), Some("user_pool.main"));
    let live_client = sdk.cognito.describe_user_pool_client().user_pool_id(&pool).client_id(&client).send().await.unwrap();
    let live_client = live_client.user_pool_client().unwrap();
    assert!(live_client.client_secret().is_none(), "a public client has no secret");
    let state = w.state();
    let recorded = state["resources"].as_array().unwrap().iter().find(|r| r["address"] == "user_pool_client.main.web").unwrap();
    assert_eq!(recorded["attributes"]["generate_secret"], false, "{recorded}");
    assert!(!state.to_string().contains("client_secret"), "no secret in the state");

    // The authorizer trusts exactly this pool and client.
    let api = w.id_of("api.main");
    let authorizers = sdk.apigw.get_authorizers().api_id(&api).send().await.unwrap();
    let jwt = authorizers.items()[0].jwt_configuration().unwrap();
    assert_eq!(jwt.issuer(), Some(format!("https://cognito-idp.{REGION}.amazonaws.com/{pool}").as_str()));
    assert_eq!(jwt.audience(), [client.clone()]);
    w.expect(&["plan", "--detailed-exitcode"], 0);
    let validate = w.expect(&["validate"], 0);
    assert!(!validate.stderr.contains("GW007"), "no placeholder issuer left: {}", validate.stderr);

    // verify holds, and leaves no user behind. Of the users already there,
    // it removes the one a stopped run left an hour ago, and keeps a person
    // and the user of a run still going.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let left_behind = format!("gwctl-verify-t{}-0123456789ab", now - 7200);
    let running = format!("gwctl-verify-t{}-ba9876543210", now - 60);
    for name in [left_behind.as_str(), running.as_str(), "alice"] {
        sdk.cognito.admin_create_user().user_pool_id(&pool).username(name).send().await.unwrap();
    }
    let (code, checks) = w.verify(&[]);
    assert_eq!(code, 0, "{checks:#?}");
    for name in ["public GET /health", "token cognito", "jwt ANY /jobs/{proxy+}", "backend private", "access logs", "ssm", "no key pair", "throttle"] {
        assert!(checks.get(name).is_some_and(|(ok, _)| *ok), "{name}: {checks:#?}");
    }
    assert_eq!(checks.keys().filter(|k| k.starts_with("jwt ")).count(), 5, "every protected route is probed");
    assert!(checks["jwt ANY /jobs/{proxy+}"].1.contains("no token 401, forged 401, expired 401, valid token 200"), "{checks:#?}");
    assert!(checks["access logs"].1.starts_with("21 of 21 requests"), "{checks:#?}");
    assert!(checks["left-behind users main"].1.contains(&left_behind), "{checks:#?}");
    let users = sdk.cognito.list_users().user_pool_id(&pool).send().await.unwrap();
    let mut names: Vec<&str> = users.users().iter().filter_map(|u| u.username()).collect();
    names.sort();
    assert_eq!(names, vec!["alice", running.as_str()], "the throwaway user and the left-behind one are removed");

    // Destroy deletes everything else and stops at the protected pool, saying how to go on.
    let run = w.expect(&["destroy", "--auto-approve"], 1);
    assert!(run.stdout.contains("user_pool.main (user_pool) will be destroyed (deletion protection is on: AWS will refuse"), "the plan says so first: {}", run.stdout);
    assert!(run.stderr.contains("set deletion_protection = false under [user_pool.main]"), "{}", run.stderr);
    assert!(run.stderr.contains("gwctl state rm user_pool.main"), "{}", run.stderr);
    let left: Vec<String> = w.state()["resources"].as_array().unwrap().iter().map(|r| r["address"].as_str().unwrap().to_string()).collect();
    assert_eq!(left, vec!["user_pool.main".to_string()]);
    assert!(sdk.apigw.get_apis().send().await.unwrap().items().is_empty(), "the API is gone");
    assert!(sdk.cognito.describe_user_pool().user_pool_id(&pool).send().await.is_ok(), "the pool is kept");

    // Lifting the protection in the spec lets the next destroy finish.
    w.edit_spec("deletion_protection = true", "deletion_protection = false");
    let run = w.expect(&["destroy", "--auto-approve"], 0);
    assert!(run.stdout.contains("deletion_protection = false: protection is lifted first"), "{}", run.stdout);
    assert!(sdk.cognito.describe_user_pool().user_pool_id(&pool).send().await.is_err(), "the pool is deleted");
}

#[tokio::test]
async fn verify_fails_naming_the_check_when_an_authorizer_is_detached_from_one_route() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = applied_seed(&emu).await;
    let api = w.id_of("api.main");
    let route = w.id_of("route.main[\"ANY /jobs/{proxy+}\"]");
    sdk.apigw.update_route().api_id(&api).route_id(&route).authorization_type(aws_sdk_apigatewayv2::types::AuthorizationType::None).send().await.unwrap();
    let (code, checks) = w.verify(&[]);
    assert_eq!(code, 1);
    assert_eq!(failing(&checks), vec!["jwt ANY /jobs/{proxy+}"], "{checks:#?}");
    assert!(checks["jwt ANY /jobs/{proxy+}"].1.contains("no token 200"), "{checks:#?}");
}

#[tokio::test]
async fn verify_fails_naming_the_check_when_the_throttle_is_set_to_zero() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = applied_seed(&emu).await;
    let settings = aws_sdk_apigatewayv2::types::RouteSettings::builder().throttling_rate_limit(0.0).throttling_burst_limit(0).build();
    sdk.apigw.update_stage().api_id(w.id_of("api.main")).stage_name("$default").default_route_settings(settings).send().await.unwrap();
    let (code, checks) = w.verify(&[]);
    assert_eq!(code, 1);
    let (ok, detail) = &checks["throttle"];
    assert!(!ok && detail.contains("0 requests/s, burst 0 (spec: 100, 200)"), "{checks:#?}");
    assert!(checks["public GET /health"].1.contains("429"), "every request is refused: {checks:#?}");
}

#[tokio::test]
async fn verify_fails_naming_the_check_when_access_logs_are_removed() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = applied_seed(&emu).await;
    sdk.apigw.delete_access_log_settings().api_id(w.id_of("api.main")).stage_name("$default").send().await.unwrap();
    let (code, checks) = w.verify(&[]);
    assert_eq!(code, 1);
    assert_eq!(failing(&checks), vec!["access logs"], "{checks:#?}");
    assert!(checks["access logs"].1.contains("writes no access logs"), "{checks:#?}");
}

#[tokio::test]
async fn verify_fails_naming_the_checks_when_the_backend_is_stopped() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = applied_seed(&emu).await;
    sdk.ec2.stop_instances().instance_ids(w.id_of("instance.backend")).send().await.unwrap();
    let (code, checks) = w.verify(&[]);
    assert_eq!(code, 1);
    let failed = failing(&checks);
    for name in ["public GET /health", "jwt ANY /jobs/{proxy+}", "ssm"] {
        assert!(failed.contains(&name), "{name} fails: {checks:#?}");
    }
    assert!(checks["public GET /health"].1.contains("503"), "{checks:#?}");
    assert!(checks["ssm"].1.contains("ConnectionLost"), "{checks:#?}");
    assert!(checks["jwt ANY /jobs/{proxy+}"].1.contains("no token 401"), "the gateway still refuses without a token: {checks:#?}");
}

#[tokio::test]
async fn verify_fails_naming_the_check_when_port_80_is_opened_to_the_world() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = applied_seed(&emu).await;
    sdk.ec2
        .authorize_security_group_ingress()
        .group_id(w.id_of("security_group.backend"))
        .ip_protocol("tcp")
        .from_port(80)
        .to_port(80)
        .cidr_ip("0.0.0.0/0")
        .send()
        .await
        .unwrap();
    let (code, checks) = w.verify(&[]);
    assert_eq!(code, 1);
    assert_eq!(failing(&checks), vec!["backend private"], "{checks:#?}");
    assert!(checks["backend private"].1.contains("admits tcp 80 from 0.0.0.0/0"), "{checks:#?}");
}

#[tokio::test]
async fn verify_takes_a_token_from_the_environment_and_fires_the_throttle() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &seed_spec().replace("throttle    = { rate = 100, burst = 200 }", "throttle    = { rate = 5, burst = 10 }"));
    w.expect(&["apply", "--auto-approve"], 0);
    let pool = w.id_of("user_pool.main");
    let client = w.id_of("user_pool_client.main.web");
    let token = ops_token(&sdk, &pool, &client).await;

    let endpoint = format!("{}/_dataplane/{}", emu.endpoint(), w.id_of("api.main"));
    let run = w.command(&["verify", "--endpoint", &endpoint, "--token-env", "OPS_TOKEN", "--throttle", "--log-wait", "5s"]).env("OPS_TOKEN", &token).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.contains("✓ token cognito") && stdout.contains("from $OPS_TOKEN"), "{stdout}");
    let fired = stdout.lines().find(|l| l.starts_with("✓ throttle fires")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(fired.contains("65 concurrent GET /health") && fired.contains("429 ×"), "{fired}");
    let users = sdk.cognito.list_users().user_pool_id(&pool).send().await.unwrap();
    assert_eq!(users.users().len(), 1, "no throwaway user was made");

    // Without the variable set, the check says so instead of passing.
    let run = w.command(&["verify", "--endpoint", &endpoint, "--token-env", "NO_SUCH_TOKEN", "--log-wait", "1s"]).env_remove("NO_SUCH_TOKEN").output().unwrap();
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stdout).contains("✗ token cognito"), "{}", String::from_utf8_lossy(&run.stdout));
}

#[tokio::test]
async fn drift_sees_a_client_changed_and_a_lost_state_adopts_the_pool_and_its_client() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &seed_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    let pool = w.id_of("user_pool.main");
    let client = w.id_of("user_pool_client.main.web");

    // Behind gwctl's back: the client loses its sign-in flows but one.
    sdk.cognito
        .update_user_pool_client()
        .user_pool_id(&pool)
        .client_id(&client)
        .client_name("web")
        .explicit_auth_flows(aws_sdk_cognitoidentityprovider::types::ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap();
    let run = w.expect(&["drift", "--json"], 2);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let drifted: Vec<&str> = report["drift"].as_array().unwrap().iter().map(|d| d["address"].as_str().unwrap()).collect();
    assert_eq!(drifted, vec!["user_pool_client.main.web"], "{report}");
    w.expect(&["apply", "--auto-approve"], 0);

    std::fs::remove_file(w.state_path()).unwrap();
    let plan = w.plan_json();
    let acts = actions(&plan);
    assert!(acts.iter().all(|(_, a)| a == "no-op"), "everything adopted, nothing made twice: {acts:?}");
    w.expect(&["apply", "--auto-approve"], 0);
    assert_eq!(w.id_of("user_pool.main"), pool);
    assert_eq!(w.id_of("user_pool_client.main.web"), client);
    let pools = sdk.cognito.list_user_pools().max_results(60).send().await.unwrap();
    assert_eq!(pools.user_pools().len(), 1, "one pool");
    let clients = sdk.cognito.list_user_pool_clients().user_pool_id(&pool).send().await.unwrap();
    assert_eq!(clients.user_pool_clients().len(), 1, "one client");
}

#[tokio::test]
async fn a_pool_of_the_same_name_made_elsewhere_is_never_adopted_changed_or_deleted() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    // The pool the stack used before it declared its own, with a real user in it.
    let before = sdk.cognito.create_user_pool().pool_name("job-work-planner").send().await.unwrap();
    let theirs = before.user_pool().unwrap().id().unwrap().to_string();
    sdk.cognito.admin_create_user().user_pool_id(&theirs).username("planner").send().await.unwrap();

    // The answer to CreateUserPool is lost once: the retry must find the
    // pool that attempt made by its tags, not the other one by its name.
    emu.configure(serde_json::json!({"faults": [{"operation": "cognito-idp:CreateUserPool", "error": "reset-after", "count": 1}]}));
    let w = Workdir::new(&emu, &seed_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    let ours = w.id_of("user_pool.main");
    assert_ne!(ours, theirs, "a pool of its own, not the one found by name");
    let pools = sdk.cognito.list_user_pools().max_results(60).send().await.unwrap();
    assert_eq!(pools.user_pools().len(), 2, "theirs and exactly one of ours: {:?}", pools.user_pools());
    std::fs::remove_file(w.state_path()).unwrap();
    let plan = w.plan_json();
    assert!(actions(&plan).iter().all(|(_, a)| a == "no-op"), "after a lost state its own pool is found by tags: {plan}");
    w.expect(&["apply", "--auto-approve"], 0);
    assert_eq!(w.id_of("user_pool.main"), ours);
    w.expect(&["destroy", "--auto-approve"], 0);

    let left = sdk.cognito.describe_user_pool().user_pool_id(&theirs).send().await.unwrap();
    assert!(left.user_pool().unwrap().user_pool_tags().is_none_or(|t| t.is_empty()), "never tagged as ours");
    let users = sdk.cognito.list_users().user_pool_id(&theirs).send().await.unwrap();
    assert_eq!(users.users().len(), 1, "its user is untouched");
    assert!(sdk.cognito.describe_user_pool().user_pool_id(&ours).send().await.is_err(), "ours is gone");
}

#[tokio::test]
async fn a_pool_update_keeps_what_gwctl_does_not_manage_and_a_rename_converges() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &seed_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    let pool = w.id_of("user_pool.main");
    // Set outside gwctl: email verification (UpdateUserPool resets what it is not given).
    sdk.cognito
        .update_user_pool()
        .user_pool_id(&pool)
        .auto_verified_attributes(aws_sdk_cognitoidentityprovider::types::VerifiedAttributeType::Email)
        .mfa_configuration(aws_sdk_cognitoidentityprovider::types::UserPoolMfaType::Optional)
        .deletion_protection(aws_sdk_cognitoidentityprovider::types::DeletionProtectionType::Inactive)
        .admin_create_user_config(aws_sdk_cognitoidentityprovider::types::AdminCreateUserConfigType::builder().allow_admin_create_user_only(true).build())
        .policies(
            aws_sdk_cognitoidentityprovider::types::UserPoolPolicyType::builder()
                .password_policy(
                    aws_sdk_cognitoidentityprovider::types::PasswordPolicyType::builder()
                        .minimum_length(12)
                        .require_lowercase(true)
                        .require_uppercase(true)
                        .require_numbers(true)
                        .require_symbols(true)
                        .temporary_password_validity_days(7)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    w.expect(&["plan", "--detailed-exitcode"], 0);
    w.edit_spec("deletion_protection = false\n", "deletion_protection = false\npassword_min_length = 14\n");
    w.edit_spec("name                = \"job-work-planner\"", "name                = \"job-work-planner-users\"");
    w.expect(&["apply", "--auto-approve"], 0);
    w.expect(&["plan", "--detailed-exitcode"], 0);
    let live = sdk.cognito.describe_user_pool().user_pool_id(&pool).send().await.unwrap();
    let live = live.user_pool().unwrap();
    assert_eq!(live.name(), Some("job-work-planner-users"), "renamed in place");
    assert_eq!(live.policies().unwrap().password_policy().unwrap().minimum_length(), Some(14));
    assert_eq!(live.auto_verified_attributes().iter().map(|a| a.as_str()).collect::<Vec<_>>(), vec!["email"], "kept");
    assert_eq!(live.user_pool_tags().unwrap().get("gwctl:project").map(String::as_str), Some("job-work-planner"), "tags kept");
}

#[tokio::test]
async fn verify_sees_what_drift_alone_would_not_show_as_broken_promises() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let spec = seed_spec().replace(
        "\"ANY /reports/{proxy+}\"     = { auth = \"cognito\" }",
        "\"ANY /reports/{proxy+}\"     = { auth = \"cognito\" }\n\"POST /jobs\"                = { auth = \"cognito\" }\n\"$default\"                  = { auth = \"cognito\" }",
    );
    let w = Workdir::new(&emu, &spec);
    w.expect(&["apply", "--auto-approve"], 0);
    let (code, checks) = w.verify(&[]);
    assert_eq!(code, 0, "{checks:#?}");
    assert!(checks["jwt POST /jobs"].1.contains("valid token not sent (POST would change data)"), "{checks:#?}");
    assert!(checks["jwt $default"].1.starts_with("GET /gwctl-verify-unmatched: no token 401"), "{checks:#?}");
    assert!(checks["authorizer cognito"].1.ends_with("the spec's"), "{checks:#?}");
    let api = w.id_of("api.main");

    // The catch-all route loses its authorizer.
    let default_route = w.id_of("route.main[\"$default\"]");
    sdk.apigw.update_route().api_id(&api).route_id(&default_route).authorization_type(aws_sdk_apigatewayv2::types::AuthorizationType::None).send().await.unwrap();
    let (code, checks) = w.verify(&[]);
    assert_eq!((code, failing(&checks)), (1, vec!["jwt $default"]), "{checks:#?}");
    w.expect(&["apply", "--auto-approve"], 0);

    // A route made outside gwctl, and a second audience.
    sdk.apigw.create_route().api_id(&api).route_key("ANY /admin/{proxy+}").target(format!("integrations/{}", w.id_of("integration.main"))).send().await.unwrap();
    let authorizer = w.id_of("authorizer.main.cognito");
    let jwt = aws_sdk_apigatewayv2::types::JwtConfiguration::builder()
        .issuer(format!("https://cognito-idp.{REGION}.amazonaws.com/{}", w.id_of("user_pool.main")))
        .audience(w.id_of("user_pool_client.main.web"))
        .audience("anything")
        .build();
    sdk.apigw.update_authorizer().api_id(&api).authorizer_id(&authorizer).jwt_configuration(jwt).send().await.unwrap();
    // And the backend admits the VPC's default group, not only the link's.
    let default_group = sdk.ec2.describe_security_groups().filters(aws_sdk_ec2::types::Filter::builder().name("group-name").values("default").build()).send().await.unwrap();
    let default_group = default_group.security_groups()[0].group_id().unwrap().to_string();
    let pair = aws_sdk_ec2::types::UserIdGroupPair::builder().group_id(&default_group).build();
    let permission = aws_sdk_ec2::types::IpPermission::builder().ip_protocol("tcp").from_port(0).to_port(65535).user_id_group_pairs(pair).build();
    sdk.ec2.authorize_security_group_ingress().group_id(w.id_of("security_group.backend")).ip_permissions(permission).send().await.unwrap();
    let (code, checks) = w.verify(&[]);
    assert_eq!(code, 1);
    assert_eq!(failing(&checks), vec!["authorizer cognito", "backend private", "undeclared ANY /admin/{proxy+}"], "{checks:#?}");
    assert!(checks["undeclared ANY /admin/{proxy+}"].1.contains("GET /admin/gwctl-verify without a token: 200 from the backend"), "{checks:#?}");
    assert!(checks["backend private"].1.contains("which is not the VPC link's"), "{checks:#?}");
    assert!(checks["authorizer cognito"].1.contains("anything"), "{checks:#?}");
    w.expect(&["apply", "--auto-approve"], 0);
    let (code, checks) = w.verify(&[]);
    assert_eq!(code, 0, "apply restored what the spec promises: {checks:#?}");

    // Last: a route's own throttle overrides the stage's; apply removes it.
    let loose = aws_sdk_apigatewayv2::types::RouteSettings::builder().throttling_rate_limit(100000.0).throttling_burst_limit(100000).build();
    sdk.apigw.update_stage().api_id(&api).stage_name("$default").route_settings("ANY /jobs/{proxy+}", loose).send().await.unwrap();
    let (code, checks) = w.verify(&[]);
    assert_eq!((code, failing(&checks)), (1, vec!["throttle"]), "{checks:#?}");
    assert!(checks["throttle"].1.contains("overridden for ANY /jobs/{proxy+}: 100000 requests/s, burst 100000"), "{checks:#?}");
    w.expect(&["apply", "--auto-approve"], 0);
    let (code, checks) = w.verify(&[]);
    assert_eq!(code, 0, "{checks:#?}");
}

/// No token, password or Authorization value reaches what gwctl prints,
/// with every call logged (`-vv`, `GWCTL_LOG=1`), nor the state or a saved
/// plan: neither a token the operator gives verify nor the throwaway user's
/// password and tokens verify makes itself.
#[tokio::test]
async fn secrets_never_reach_the_output_the_state_or_a_saved_plan() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &seed_spec());
    w.expect(&["apply", "--auto-approve", "-vv"], 0);
    let token = ops_token(&sdk, &w.id_of("user_pool.main"), &w.id_of("user_pool_client.main.web")).await;
    let endpoint = format!("{}/_dataplane/{}", emu.endpoint(), w.id_of("api.main"));
    let mut seen = String::new();
    for args in [vec!["verify", "--token-env", "OPS_TOKEN"], vec!["verify"], vec!["verify", "--json"]] {
        let mut args = args;
        args.extend(["--endpoint", endpoint.as_str(), "--log-wait", "5s", "-vv"]);
        let run = w.command(&args).env("OPS_TOKEN", &token).env("GWCTL_LOG", "1").output().unwrap();
        let (out, err) = (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
        assert_eq!(run.status.code(), Some(0), "{args:?}: {out}{err}");
        assert!(err.contains("AdminInitiateAuth") || args.contains(&"OPS_TOKEN"), "calls are logged: {err}");
        seen.push_str(&out);
        seen.push_str(&err);
    }
    let plan = w.path().join("reviewed.plan");
    w.expect(&["plan", "--out", plan.to_str().unwrap(), "-vv"], 0);
    seen.push_str(&String::from_utf8_lossy(&std::fs::read(&plan).unwrap()));
    seen.push_str(&std::fs::read_to_string(w.state_path()).unwrap());
    let signature = token.rsplit('.').next().unwrap();
    assert!(!seen.contains(&token) && !seen.contains(signature), "the operator's token is shown");
    assert!(!seen.contains(OPS_PASSWORD));
    let jwt = regex::Regex::new(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}").unwrap();
    assert!(jwt.find(&seen).is_none(), "a token is shown: {:?}", jwt.find(&seen).map(|m| m.as_str()));
    let password = regex::Regex::new(r"Gw1![0-9a-f]{32}").unwrap();
    assert!(password.find(&seen).is_none(), "the throwaway user's password is shown");
    assert!(!seen.to_ascii_lowercase().contains("bearer "), "an Authorization value is shown");
    assert!(seen.len() > 2000, "there was output to look through: {} bytes", seen.len());
}
