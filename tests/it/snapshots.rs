//! Snapshot tests of what a person reads: plan, apply, drift and error
//! output, compared with tests/snapshots/*.txt after one shared list of
//! redactions (ids, addresses, times). `GWCTL_UPDATE_SNAPSHOTS=1 cargo test
//! --test it snapshots` rewrites them; review the diff before committing.


use crate::common::*;
use regex::Regex;

/// What differs between runs and is not the point: ids, addresses, times.
const REDACTIONS: &[(&str, &str)] = &[
    (r"\[id=[^\]]+\]", "[id=[ID]]"),
    (r"\bi-[0-9a-f]{8,17}\b", "i-[ID]"),
    (r"\bsg-[0-9a-f]{8,17}\b", "sg-[ID]"),
    (r"\bvpc-[0-9a-f]{8,17}\b", "vpc-[ID]"),
    (r"\bsubnet-[0-9a-f]{8,17}\b", "subnet-[ID]"),
    (r"\bami-[0-9a-f]{8,17}\b", "ami-[ID]"),
    (r"ec2-\d+-\d+-\d+-\d+", "ec2-[IP]"),
    (r"\b\d+\.\d+\.\d+\.\d+\b", "[IP]"),
    (r"\bafter \d+\.\d+s\b", "after [T]s"),
    (r#"https://[a-z0-9]+\.execute-api"#, "https://[API].execute-api"),
    (r#""api_id": "[a-z0-9]+""#, r#""api_id": "[API]""#),
    (r"/tmp/[^\s:]+", "[TMP]"),
];

fn redact(text: &str) -> String {
    REDACTIONS.iter().fold(text.to_string(), |t, (pattern, with)| Regex::new(pattern).unwrap().replace_all(&t, *with).into_owned())
}

fn assert_snapshot(name: &str, text: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots").join(format!("{name}.txt"));
    let got = redact(text);
    if std::env::var_os("GWCTL_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("no snapshot {}: run GWCTL_UPDATE_SNAPSHOTS=1 cargo test --test it snapshots", path.display()));
    if want != got {
        let first = want.lines().zip(got.lines()).position(|(a, b)| a != b).unwrap_or(want.lines().count().min(got.lines().count()));
        panic!(
            "{name} differs from {} at line {}:\n  snapshot: {:?}\n  now:      {:?}\nwhole output now:\n{got}",
            path.display(),
            first + 1,
            want.lines().nth(first),
            got.lines().nth(first)
        );
    }
}

#[test]
fn plan_apply_replan_and_drift_read_as_recorded() {
    let emu = Emulator::start();
    let w = Workdir::new(&emu, &ec2_spec());
    assert_snapshot("plan_from_nothing", &w.expect(&["plan"], 0).stdout);
    assert_snapshot("apply_from_nothing", &w.expect(&["apply", "--auto-approve", "--parallelism", "1"], 0).stdout);
    assert_snapshot("plan_no_changes", &w.expect(&["plan"], 0).stdout);
    w.edit_spec("retention_days = 30", "retention_days = 60");
    w.edit_spec("instance_type   = \"t3.micro\"", "instance_type   = \"t3.small\"");
    assert_snapshot("plan_updates", &w.expect(&["plan"], 0).stdout);
    assert_snapshot("drift_none", &w.expect(&["drift"], 0).stdout);
}

#[test]
fn the_seeds_private_plan_reads_as_recorded() {
    let emu = Emulator::start();
    let w = Workdir::new(&emu, &repo_seed_spec());
    assert_snapshot("plan_seed_from_nothing", &w.expect(&["plan"], 0).stdout);
}

#[test]
fn spec_errors_read_as_recorded() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("examples")).unwrap();
    std::fs::write(dir.path().join("examples/apache-user-data.sh"), "#!/bin/bash\n").unwrap();
    let spec = seed_spec()
        .replacen("instance_type   = \"t3.micro\"", "instance_tpye   = \"t3.micro\"", 1);
    std::fs::write(dir.path().join("gateway.toml"), spec).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gwctl")).arg("validate").current_dir(dir.path()).output().unwrap();
    assert_snapshot("error_unknown_key", &String::from_utf8_lossy(&out.stderr));
    let spec = seed_spec()
        .replacen("role            = \"backend\"", "role            = \"frontend\"", 1)
        .replacen("\"GET /health\"               = { auth = \"none\" }", "\"GET /health\"               = { auth = \"okta\" }", 1)
        .replacen("throttle    = { rate = 100, burst = 200 }", "throttle    = { rate = 0, burst = 200 }", 1);
    std::fs::write(dir.path().join("gateway.toml"), spec).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gwctl")).arg("validate").current_dir(dir.path()).output().unwrap();
    assert_snapshot("error_several", &String::from_utf8_lossy(&out.stderr));
}
