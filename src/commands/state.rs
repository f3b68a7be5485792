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
