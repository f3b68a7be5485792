//! What people reach for coming from Terraform: saved plans and stale-plan
//! refusal, state list/show/rm, import, graph, init, completions.


use crate::common::*;

#[tokio::test]
async fn a_saved_plan_is_applied_exactly_and_a_stale_one_is_refused() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let w = Workdir::new(&emu, &public_seed_spec());
    let run = w.expect(&["plan", "--out", "first.plan"], 0);
    assert!(run.stdout.contains("gwctl apply first.plan"), "{}", run.stdout);
    assert!(!w.state_path().exists(), "plan writes no state");
    let run = w.expect(&["apply", "first.plan"], 0);
    assert!(run.stdout.contains("15 added"), "{}", run.stdout);
    w.expect(&["plan", "--detailed-exitcode"], 0);
    let logged = Run::from(w.command(&["plan"]).env("GWCTL_LOG", "1").output().unwrap());
    assert!(logged.stderr.contains("aws EC2 DescribeInstances: 200 in "), "{}", logged.stderr);
    assert!(logged.stderr.contains("request id "), "{}", logged.stderr);
    let stats = w.expect(&["plan", "--stats"], 0);
    assert!(stats.stderr.contains("AWS calls: 15 in"), "{}", stats.stderr);

    // A plan made, then the spec changed: refused, nothing applied.
    w.edit_spec("retention_days = 30", "retention_days = 60");
    w.expect(&["plan", "--out", "second.plan"], 0);
    w.edit_spec("retention_days = 60", "retention_days = 90");
    let run = w.expect(&["apply", "second.plan"], 1);
    assert!(run.stderr.contains("is stale") && run.stderr.contains("changed since"), "{}", run.stderr);

    // A plan made, then the state changed (someone applied): refused.
    w.expect(&["plan", "--out", "third.plan"], 0);
    w.expect(&["apply", "--auto-approve"], 0);
    let run = w.expect(&["apply", "third.plan"], 1);
    assert!(run.stderr.contains("the state changed since"), "{}", run.stderr);
    let groups = sdk.logs.describe_log_groups().log_group_name_prefix("/aws/vendedlogs/apigateway/job-work-planner").send().await.unwrap();
    assert_eq!(groups.log_groups()[0].retention_in_days(), Some(90), "only the fresh apply took effect");

    // The saved plan is what apply applies, not a new plan.
    w.edit_spec("retention_days = 90", "retention_days = 120");
    w.expect(&["plan", "--out", "fourth.plan"], 0);
    let apply = w.expect(&["apply", "fourth.plan"], 0);
    assert!(apply.stdout.contains("1 changed"), "{}", apply.stdout);
    let garbage = w.path().join("garbage.plan");
    std::fs::write(&garbage, "{}").unwrap();
    let run = w.expect(&["apply", "garbage.plan"], 1);
    assert!(run.stderr.contains("is not a gwctl plan file"), "{}", run.stderr);
}

#[tokio::test]
async fn state_list_show_and_rm_then_import_adopts_it_back() {
    let emu = Emulator::start();
    let w = Workdir::new(&emu, &ec2_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    let list = w.expect(&["state", "list"], 0).stdout;
    for address in ["role.backend", "instance_profile.backend", "security_group.backend", "instance.backend", "log_group.api_access"] {
        assert!(list.contains(address), "{list}");
    }
    let id = w.id_of("instance.backend");
    let show = w.expect(&["state", "show", "instance.backend"], 0).stdout;
    assert!(show.contains(&format!("id           = {id}")) && show.contains("instance_type"), "{show}");
    assert_eq!(w.run(&["state", "show", "instance.nope"]).code, 1);

    // rm asks; without a terminal and without --auto-approve it refuses.
    let refused = w.expect(&["state", "rm", "instance.backend"], 1);
    assert!(refused.stderr.contains("--auto-approve"), "{}", refused.stderr);
    w.expect(&["state", "rm", "instance.backend", "--auto-approve"], 0);
    assert!(!w.expect(&["state", "list"], 0).stdout.contains("instance.backend"));
    let sdk = emu.sdk().await;
    let live = sdk.ec2.describe_instances().instance_ids(&id).send().await.unwrap();
    assert_eq!(live.reservations()[0].instances()[0].state().and_then(|s| s.name()).map(|n| n.as_str()), Some("running"), "rm deletes nothing");

    // import adopts it again; the next plan has nothing to do.
    let run = w.expect(&["import", "instance.backend", &id], 0);
    assert!(run.stdout.contains("Imported instance.backend"), "{}", run.stdout);
    w.expect(&["plan", "--detailed-exitcode"], 0);
    assert_eq!(w.run(&["import", "instance.backend", &id]).code, 1, "already in the state");
    assert_eq!(w.run(&["import", "instance.other", &id]).code, 1, "not declared");
    w.expect(&["state", "rm", "log_group.api_access", "--auto-approve"], 0);
    let missing = w.run(&["import", "log_group.api_access", "/no/such/group"]);
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("there is no log_group"), "{}", missing.stderr);
}

#[test]
fn graph_init_and_completions() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Run::from(std::process::Command::new(env!("CARGO_BIN_EXE_gwctl")).args(args).current_dir(dir.path()).output().unwrap())
    };
    let init = run(&["init"]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    assert!(dir.path().join("gateway.toml").exists() && dir.path().join("examples/apache-user-data.sh").exists());
    assert_eq!(run(&["validate"]).code, 0, "the starter spec validates");
    let again = run(&["init"]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("never overwrites"), "{}", again.stderr);

    let dot = run(&["graph"]).stdout;
    assert!(dot.starts_with("digraph gwctl {"), "{dot}");
    assert!(dot.contains("\"instance.backend\" -> \"instance_profile.backend\";"), "{dot}");
    assert!(dot.contains("\"route.main[\\\"GET /health\\\"]\" -> \"integration.main\";"), "{dot}");

    for shell in ["bash", "zsh", "fish"] {
        let out = run(&["completions", shell]);
        assert_eq!(out.code, 0);
        assert!(out.stdout.contains("force-unlock"), "{shell}");
    }
}

/// Runs `gwctl args` on a pseudo-terminal (util-linux `script`), typing `input`.
fn on_a_terminal(w: &Workdir, args: &str, input: &str) -> Run {
    use std::io::Write;
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_gwctl"));
    let mut child = w
        .program("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("script from util-linux");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    Run::from(child.wait_with_output().unwrap())
}

#[tokio::test]
async fn on_a_terminal_apply_asks_and_only_yes_goes_on() {
    let emu = Emulator::start();
    let w = Workdir::new(&emu, &ec2_spec());
    let no = on_a_terminal(&w, "apply", "no\n");
    assert!(no.stdout.contains("Do you want to perform these actions? Only 'yes' will be accepted:"), "{}", no.stdout);
    assert!(no.stdout.contains("cancelled: nothing was changed"), "{}", no.stdout);
    assert!(!w.state_path().exists() || w.state()["resources"] == serde_json::json!([]));
    let yes = on_a_terminal(&w, "apply", "yes\n");
    assert!(yes.stdout.contains("Apply complete"), "{}", yes.stdout);
    assert_eq!(w.state()["resources"].as_array().unwrap().len(), 5);
}

/// Ctrl-C at the approval prompt ends gwctl at once: nothing applied, the
/// lock released, exit 130; it does not wait for the Enter the abandoned
/// read of the answer still waits for.
#[tokio::test]
async fn ctrl_c_at_the_prompt_ends_at_once_and_releases_the_lock() {
    use std::io::{Read, Write};
    let emu = Emulator::start();
    let w = Workdir::new(&emu, &ec2_spec());
    let lock = w.path().join("state/job-work-planner.json.lock");
    let mut child = w
        .program("script")
        .args(["-qec", &format!("{} apply", env!("CARGO_BIN_EXE_gwctl")), "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("script from util-linux");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = stdout.read(&mut buf) {
            if tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = String::new();
    let mut read = || {
        while let Ok(chunk) = rx.try_recv() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        seen.clone()
    };
    let prompted = wait_until(std::time::Duration::from_secs(60), || read().contains("Only 'yes' will be accepted:"));
    assert!(prompted, "no prompt: {}", read());
    assert!(lock.exists(), "the lock is held while asking");
    // ^C typed on the terminal; stdin stays open, as a person's would.
    stdin.write_all(b"\x03").unwrap();
    stdin.flush().unwrap();
    let ended = wait_until(std::time::Duration::from_secs(5), || child.try_wait().unwrap().is_some());
    if !ended {
        let _ = child.kill();
    }
    let status = child.wait().unwrap();
    drop(stdin);
    assert!(ended, "gwctl still running 5 s after Ctrl-C: {}", read());
    assert_eq!(status.code(), Some(130), "{}", read());
    assert!(read().contains("nothing was changed"), "{}", read());
    assert!(!lock.exists(), "the lock is released");
    assert!(!w.state_path().exists() || w.state()["resources"] == serde_json::json!([]), "nothing was applied");
}

#[test]
fn a_man_page() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| Run::from(std::process::Command::new(env!("CARGO_BIN_EXE_gwctl")).args(args).current_dir(dir.path()).output().unwrap());
    let man = run(&["man"]);
    assert_eq!(man.code, 0);
    assert!(man.stdout.starts_with(".ie") || man.stdout.contains(".TH gwctl"), "{}", &man.stdout[..200.min(man.stdout.len())]);
    assert!(man.stdout.contains("force\\-unlock"), "every command is in it");
}

/// Checks a TOML file against a JSON Schema with Python's jsonschema (from
/// the emulator's virtualenv), independent of gwctl's own parser.
fn schema_accepts(schema: &std::path::Path, toml: &std::path::Path) -> bool {
    let python = std::env::var("GWCTL_EMULATOR_PYTHON").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python").to_string());
    let script = "import json, sys, tomllib, jsonschema\n\
                  schema = json.load(open(sys.argv[1]))\n\
                  doc = tomllib.load(open(sys.argv[2], 'rb'))\n\
                  errors = list(jsonschema.Draft202012Validator(schema).iter_errors(doc))\n\
                  print('\\n'.join(e.message for e in errors))\n\
                  sys.exit(1 if errors else 0)";
    let out = std::process::Command::new(python).args(["-c", script]).arg(schema).arg(toml).output().expect("python with jsonschema");
    assert!(out.status.code().is_some_and(|c| c <= 1), "{}", String::from_utf8_lossy(&out.stderr));
    out.status.success()
}

#[test]
fn the_schema_accepts_the_repo_spec_and_rejects_a_broken_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gwctl")).arg("schema").output().unwrap();
    assert!(out.status.success());
    let schema = dir.path().join("gateway.schema.json");
    std::fs::write(&schema, &out.stdout).unwrap();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(schema_accepts(&schema, &repo.join("gateway.toml")));
    let drift = dir.path().join("with-drift.toml");
    std::fs::write(&drift, format!("{}\n[drift]\nignore = [\"instance.backend.state\"]\n", public_seed_spec())).unwrap();
    assert!(schema_accepts(&schema, &drift));
    for (from, to) in [("instance_type   = \"t3.micro\"", "instance_tpye = \"t3.micro\""), ("retention_days = 30", "retention_days = \"30\"")] {
        let broken = dir.path().join("broken.toml");
        std::fs::write(&broken, public_seed_spec().replacen(from, to, 1)).unwrap();
        assert!(!schema_accepts(&schema, &broken), "{to}");
    }
}

#[tokio::test]
async fn on_a_terminal_the_display_is_live_and_coloured_unless_asked_for_plain_lines() {
    let emu = Emulator::start();
    emu.configure(serde_json::json!({"latency_ms": 30}));
    let w = Workdir::new(&emu, &ec2_spec());
    let live = on_a_terminal(&w, "apply --auto-approve", "");
    assert!(live.stdout.contains("Apply complete"), "{}", live.stdout);
    assert!(live.stdout.contains("\x1b[J"), "the in-flight block is redrawn");
    assert!(live.stdout.contains("\x1b[32m+\x1b[0m role.backend"), "the plan is coloured");
    for address in ["role.backend", "instance_profile.backend", "security_group.backend", "instance.backend", "log_group.api_access"] {
        assert!(live.stdout.contains(&format!("{address}: Creation complete")), "{address}: {}", live.stdout);
    }
    let plain = on_a_terminal(&w, "destroy --auto-approve --no-progress", "");
    assert!(plain.stdout.contains("Destroy complete"), "{}", plain.stdout);
    assert!(!plain.stdout.contains("\x1b[J"), "plain lines: {}", plain.stdout);
    assert!(plain.stdout.contains("instance.backend: Destroying...") && plain.stdout.contains("instance.backend: Destruction complete"));
    let no_colour = Run::from(
        w.program("script")
            .args(["-qec", &format!("{} plan", env!("CARGO_BIN_EXE_gwctl")), "/dev/null"])
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap(),
    );
    assert!(no_colour.stdout.contains("+ role.backend") && !no_colour.stdout.contains("\x1b[3"), "{}", no_colour.stdout);
}
