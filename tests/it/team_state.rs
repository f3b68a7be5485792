//! State for teams (docs/design.md §10): the state in S3, shared by
//! several machines (here, folders), locked with a conditional create and
//! written only over the version read. Read back with the SDK.

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;

use crate::common::*;

const BUCKET: &str = "acme-gwctl-state";
const KEY: &str = "job-work-planner.json";

fn s3_spec() -> String {
    format!("{}\n[state]\nbackend = \"s3\"\nbucket  = \"{BUCKET}\"\n", public_seed_spec())
}

async fn s3(emu: &Emulator) -> aws_sdk_s3::Client {
    let client = emu.sdk().await.s3;
    let location = aws_sdk_s3::types::CreateBucketConfiguration::builder().location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(REGION)).build();
    let _ = client.create_bucket().bucket(BUCKET).create_bucket_configuration(location).send().await;
    let enabled = aws_sdk_s3::types::VersioningConfiguration::builder().status(aws_sdk_s3::types::BucketVersioningStatus::Enabled).build();
    client.put_bucket_versioning().bucket(BUCKET).versioning_configuration(enabled).send().await.unwrap();
    client
}

async fn object(client: &aws_sdk_s3::Client, key: &str) -> Option<(serde_json::Value, String)> {
    let out = client.get_object().bucket(BUCKET).key(key).send().await.ok()?;
    let etag = out.e_tag().unwrap_or_default().to_string();
    let bytes = out.body.collect().await.unwrap().into_bytes();
    Some((serde_json::from_slice(&bytes).unwrap(), etag))
}

/// Waits until `gwctl` in `w` holds the lock object.
async fn wait_for_lock(client: &aws_sdk_s3::Client) -> serde_json::Value {
    let started = Instant::now();
    loop {
        if let Some((lock, _)) = object(client, &format!("{KEY}.lock")).await {
            return lock;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no lock appeared");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn two_machines_share_one_state_in_s3_and_an_apply_writes_once_per_change() {
    let emu = Emulator::start();
    let client = s3(&emu).await;
    let laptop = Workdir::new(&emu, &s3_spec());
    let cron = Workdir::new(&emu, &s3_spec());
    emu.control("POST", "/_emulator/calls/reset", "");
    let run = laptop.expect(&["apply", "--auto-approve"], 0);
    assert!(!run.stderr.contains("versioning off"), "{}", run.stderr);
    assert!(!laptop.path().join("state").exists(), "no local state is written");
    let (state, _) = object(&client, KEY).await.expect("the state is in S3");
    let resources = state["resources"].as_array().unwrap().len();
    assert_eq!(resources, 15);
    assert!(object(&client, &format!("{KEY}.lock")).await.is_none(), "the lock is released");

    // S3 calls of the apply: the lock's create and delete, and the state's writes.
    let calls = emu.calls();
    let by_op = calls["by_operation"].as_object().unwrap();
    let count = |op: &str| by_op.get(op).and_then(|v| v.as_u64()).unwrap_or(0);
    let state_writes = count(&format!("s3:PUT /{BUCKET}/{KEY}"));
    let (lock_puts, lock_deletes) = (count(&format!("s3:PUT /{BUCKET}/{KEY}.lock")), count(&format!("s3:DELETE /{BUCKET}/{KEY}.lock")));
    println!("team state: apply of {resources} resources: {state_writes} state writes, {lock_puts} lock create, {lock_deletes} lock delete");
    assert_eq!((lock_puts, lock_deletes), (1, 1));
    assert!(state_writes as usize <= 2 * resources, "{state_writes} writes for {resources} resources");

    // The cron host sees the same stack: nothing to change, no drift.
    cron.expect(&["plan", "--detailed-exitcode"], 0);
    cron.expect(&["drift"], 0);
    let list = cron.expect(&["state", "list"], 0).stdout;
    assert!(list.contains("api.main") && list.lines().count() == resources, "{list}");
    let pulled: serde_json::Value = serde_json::from_str(&cron.expect(&["state", "pull"], 0).stdout).unwrap();
    assert_eq!(pulled["serial"], state["serial"]);
}

#[tokio::test]
async fn a_second_apply_is_refused_at_once_naming_the_holder() {
    let emu = Emulator::start();
    let client = s3(&emu).await;
    let laptop = Workdir::new(&emu, &s3_spec());
    let ci = Workdir::new(&emu, &s3_spec());
    emu.configure(serde_json::json!({"latency_ms": 150}));
    let mut first = laptop.command(&["apply", "--auto-approve"]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let lock = wait_for_lock(&client).await;
    let started = Instant::now();
    let run = ci.expect(&["apply", "--auto-approve"], 1);
    let took = started.elapsed();
    println!("team state: second apply refused after {:.2} s", took.as_secs_f64());
    assert!(took < Duration::from_secs(5), "refused in {took:?}");
    let id = lock["id"].as_str().unwrap();
    assert!(run.stderr.contains("state is locked by `gwctl apply`") && run.stderr.contains(id), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("s3://{BUCKET}/{KEY}.lock")), "{}", run.stderr);
    assert_eq!(first.wait().unwrap().code(), Some(0));
    emu.configure(serde_json::json!({"latency_ms": 0}));
    ci.expect(&["plan", "--detailed-exitcode"], 0);
}

#[tokio::test]
async fn after_a_killed_apply_the_lock_is_named_and_force_unlock_then_apply_converge_to_one_of_everything() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    let client = s3(&emu).await;
    let laptop = Workdir::new(&emu, &s3_spec());
    let other = Workdir::new(&emu, &s3_spec());
    emu.configure(serde_json::json!({"latency_ms": 100}));
    let mut child = laptop.command(&["apply", "--auto-approve"]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let lock = wait_for_lock(&client).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    emu.configure(serde_json::json!({"latency_ms": 0}));

    let id = lock["id"].as_str().unwrap();
    let run = other.expect(&["apply", "--auto-approve"], 1);
    assert!(run.stderr.contains(id) && run.stderr.contains(&format!("gwctl force-unlock {id}")), "never broken by itself: {}", run.stderr);
    other.expect(&["plan"], 0);
    let unlock = other.expect(&["force-unlock", id], 0);
    assert!(unlock.stdout.contains(id), "{}", unlock.stdout);
    other.expect(&["apply", "--auto-approve"], 0);
    other.expect(&["plan", "--detailed-exitcode"], 0);
    assert_eq!(crate::safety::count(&sdk, "job-work-planner").await, crate::safety::ONE_OF_EACH);
}

#[tokio::test]
async fn a_writer_that_lost_its_lock_never_overwrites_the_newer_state() {
    let emu = Emulator::start();
    let client = s3(&emu).await;
    let laptop = Workdir::new(&emu, &s3_spec());
    let other = Workdir::new(&emu, &s3_spec());
    emu.configure(serde_json::json!({"latency_ms": 150}));
    let first = laptop.command(&["apply", "--auto-approve"]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    wait_for_lock(&client).await;
    let started = Instant::now();
    while object(&client, KEY).await.is_none() {
        assert!(started.elapsed() < Duration::from_secs(30), "the first writer never wrote");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The lock is lost (deleted by hand), and another machine writes the state.
    client.delete_object().bucket(BUCKET).key(format!("{KEY}.lock")).send().await.unwrap();
    // (Read and written over the version read, as a second gwctl would;
    // again when the first one wrote in between.)
    let mut written = false;
    for _ in 0..50 {
        let (mut state, etag) = object(&client, KEY).await.expect("the first writer wrote already");
        state["serial"] = serde_json::json!(1000);
        state["resources"] = serde_json::json!([]);
        let body = ByteStream::from(serde_json::to_vec(&state).unwrap());
        if client.put_object().bucket(BUCKET).key(KEY).if_match(etag).body(body).send().await.is_ok() {
            written = true;
            break;
        }
    }
    assert!(written, "the second writer got its write in");
    let out = first.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("refusing to write the state") && stderr.contains("nothing was overwritten"), "{stderr}");
    let (after, _) = object(&client, KEY).await.unwrap();
    assert_eq!(after["serial"], 1000, "the newer state stands");
    emu.configure(serde_json::json!({"latency_ms": 0}));
    other.expect(&["apply", "--auto-approve"], 0);
    other.expect(&["plan", "--detailed-exitcode"], 0);
}

#[tokio::test]
async fn a_local_state_migrates_to_s3_once_and_a_second_migration_is_refused() {
    let emu = Emulator::start();
    let client = s3(&emu).await;
    let w = Workdir::new(&emu, &public_seed_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    let (serial, lineage) = (w.state()["serial"].as_u64().unwrap(), w.state()["lineage"].clone());
    w.write_spec(&s3_spec());
    // Switched to S3 without migrating: an empty state there would build the stack twice.
    for args in [&["plan"][..], &["apply", "--auto-approve"][..]] {
        let run = w.expect(args, 1);
        assert!(run.stderr.contains("run `gwctl state migrate`"), "{}", run.stderr);
    }
    assert!(object(&client, KEY).await.is_none());
    let run = w.expect(&["state", "migrate"], 0);
    assert!(run.stdout.contains(&format!("s3://{BUCKET}/{KEY}")), "{}", run.stdout);
    assert!(!w.state_path().exists() && w.path().join(format!("state/{KEY}.migrated")).exists(), "the local file is kept aside");
    let (state, _) = object(&client, KEY).await.unwrap();
    assert_eq!((state["serial"].as_u64().unwrap(), &state["lineage"]), (serial + 1, &lineage), "the same state, written once more");
    w.expect(&["plan", "--detailed-exitcode"], 0);
    std::fs::copy(w.path().join(format!("state/{KEY}.migrated")), w.state_path()).unwrap();
    let again = w.expect(&["state", "migrate"], 1);
    assert!(again.stderr.contains("never overwrites"), "{}", again.stderr);
}

#[tokio::test]
async fn a_renamed_project_with_its_state_in_s3_is_refused_naming_the_old_one() {
    let emu = Emulator::start();
    let sdk = emu.sdk().await;
    s3(&emu).await;
    let w = Workdir::new(&emu, &s3_spec());
    w.expect(&["apply", "--auto-approve"], 0);
    w.edit_spec("name   = \"job-work-planner\"", "name   = \"work-planner\"");
    emu.control("POST", "/_emulator/calls/reset", "");
    let run = w.expect(&["apply", "--auto-approve"], 1);
    assert!(run.stderr.contains("Was [project] name changed from job-work-planner?"), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("s3://{BUCKET}/{KEY}")), "{}", run.stderr);
    let apis = sdk.apigw.get_apis().send().await.unwrap();
    assert_eq!(apis.items().len(), 1, "no second stack");
}
