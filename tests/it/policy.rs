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
    for st in apply["Statement"].as_array().unwrap() {
        let sid = st["Sid"].as_str().unwrap();
        if sid.starts_with("ForAws") {
            continue; // checked by AWS on gwctl's behalf: no call of its own to count
        }
        assert!(needed_by.contains_key(sid), "statement {sid} allows no call that another statement does not: {st}");
    }
    // verify's own statements are needed by verify's calls alone.
    for st in verify["Statement"].as_array().unwrap().iter().filter(|st| st["Sid"].as_str().unwrap().starts_with("Verify")) {
        let sid = st["Sid"].as_str().unwrap();
        assert!(verifies.iter().any(|op| allowing(&verify, op) == [sid.to_string()]), "statement {sid} allows no call of verify's: {st}");
        assert!(allowing(&apply, &list(&st["Action"])[0]).is_empty(), "the apply policy does not carry verify's {sid}");
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
