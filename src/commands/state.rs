//! `gwctl state list|show|rm`.

use serde_json::json;

use crate::cli::{Global, StateCommand};
use crate::error::{Error, Result};
use crate::spec::Spec;

pub async fn state(g: &Global, command: StateCommand) -> Result<u8> {
    let spec = Spec::load(&g.spec)?;
    match command {
        StateCommand::List => {
            let state = super::read_state(g, &spec)?;
            if g.json {
                let list: Vec<_> = state.resources.iter().map(|r| json!({"address": r.address, "kind": r.kind, "id": r.id})).collect();
                println!("{}", json!(list));
            } else {
                let width = state.resources.iter().map(|r| r.address.len()).max().unwrap_or(0);
                for r in &state.resources {
                    println!("{:width$}  {:16}  {}", r.address, r.kind.as_str(), r.id);
                }
            }
            Ok(0)
        }
        StateCommand::Show { address } => {
            let state = super::read_state(g, &spec)?;
            let r = state.get(&address).ok_or_else(|| not_in_state(&address, &state))?;
            if g.json {
                println!("{}", serde_json::to_string_pretty(r).unwrap_or_default());
            } else {
                println!("# {} ({})", r.address, r.kind);
                println!("id           = {}", r.id);
                println!("dependencies = {}", json!(r.dependencies));
                let width = r.attributes.keys().map(String::len).max().unwrap_or(0);
                for (k, v) in &r.attributes {
                    println!("{k:width$} = {v}");
                }
            }
            Ok(0)
        }
        StateCommand::Pull => {
            let state = super::read_state(g, &spec)?;
            println!("{}", serde_json::to_string_pretty(&state).unwrap_or_default());
            Ok(0)
        }
        StateCommand::Migrate => migrate(g, &spec),
        StateCommand::Rm { address, auto_approve } => {
            // Asked before the lock is taken: nobody waits on a person at a prompt.
            if !auto_approve {
                let state = super::read_state(g, &spec)?;
                let r = state.get(&address).ok_or_else(|| not_in_state(&address, &state))?;
                super::confirm(
                    &format!(
                        "Forget {} ({} {})? The resource stays in AWS. While the spec declares {}, the next apply adopts it again; \
                         remove it from the spec to stop managing it.",
                        r.address, r.kind, r.id, r.address
                    ),
                    "pass --auto-approve",
                )?;
            }
            let (mut store, mut state) = super::open_state(g, &spec, "gwctl state rm")?;
            let r = state.get(&address).cloned().ok_or_else(|| not_in_state(&address, &state))?;
            state.remove(&address);
            store.save(&mut state)?;
            println!("Removed {} from the state; {} {} was not deleted from AWS.", r.address, r.kind, r.id);
            Ok(0)
        }
    }
}

pub(super) fn not_in_state(address: &str, state: &crate::state::State) -> Error {
    let known: Vec<&str> = state.resources.iter().map(|r| r.address.as_str()).collect();
    Error::NotInState { address: address.to_string(), count: known.len() }
}

/// `gwctl state migrate`: the local file, under its lock, becomes the S3
/// object (created only if there is none); the file is then renamed
/// `<file>.migrated`, so no run uses it again by mistake.
fn migrate(g: &Global, spec: &Spec) -> Result<u8> {
    let Some(target) = spec.state_backend.clone() else {
        return Err(Error::Flags("the spec has no [state] backend = \"s3\" to migrate to; add it first"));
    };
    let path = super::state_path(g, spec);
    if !path.exists() {
        return Err(Error::NoState { path });
    }
    let local = crate::state::Location::Local(path.clone());
    let (store, mut state) = crate::state::Store::open(&local, "gwctl state migrate", g.lock_timeout)?;
    state.claim(&path, &spec.project, &spec.region, &g.spec.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())?;
    // Under the target's lock too: no apply may start on the empty object meanwhile.
    let remote = crate::state::Location::S3(target.clone());
    let (mut remote_store, _) = crate::state::Store::open(&remote, "gwctl state migrate", g.lock_timeout)?;
    if remote_store.exists() {
        return Err(crate::state::StateError::TargetExists { path: remote.display() }.into());
    }
    remote_store.save(&mut state)?;
    let migrated = std::path::PathBuf::from(format!("{}.migrated", path.display()));
    std::fs::rename(&path, &migrated)?;
    drop(remote_store);
    drop(store);
    println!(
        "Moved the state ({} resources, serial {}) to {}; the local file is now {}.",
        state.resources.len(),
        state.serial,
        crate::state::s3::display(&target).display(),
        migrated.display()
    );
    Ok(0)
}
