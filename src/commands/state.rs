//! `gwctl state list|show|rm`, `import`, `graph`, `init`.

use std::path::Path;

use serde_json::json;

use crate::provider::aws::Aws;
use crate::cli::{Global, StateCommand};
use crate::error::{Error, Result};
use crate::graph;
use crate::provider::{self, ReadItem};
use crate::spec::Spec;
use crate::state::ResourceState;

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

fn not_in_state(address: &str, state: &crate::state::State) -> Error {
    let known: Vec<&str> = state.resources.iter().map(|r| r.address.as_str()).collect();
    Error::Usage(format!("{address} is not in the state; `gwctl state list` shows what is ({} resources)", known.len()))
}


/// `gwctl import ADDRESS ID`: reads the resource from AWS and records it.
pub async fn import(g: &Global, address: &str, id: &str) -> Result<u8> {
    let spec = Spec::load(&g.spec)?;
    let nodes = graph::nodes(&spec);
    let node = nodes.iter().find(|n| n.address == address).ok_or_else(|| {
        let all: Vec<&str> = nodes.iter().map(|n| n.address.as_str()).collect();
        Error::Usage(format!("{address} is not declared in {}; declared addresses: {}", g.spec.display(), all.join(", ")))
    })?;
    let (mut store, mut state) = super::open_state(g, &spec, "gwctl import")?;
    if let Some(existing) = state.get(address) {
        return Err(Error::Usage(format!("{address} is already in the state as {}; `gwctl state rm {address}` first to import another", existing.id)));
    }
    let kind = provider::of(node.kind);
    let mut attrs = kind.import_attrs(&spec, node);
    if let Some(parent) = kind.parent() {
        let at = nodes.iter().find(|n| n.kind == parent.kind && node.deps.contains(&n.address)).map(|n| n.address.clone()).unwrap_or_default();
        let parent_id = state.get(&at).map(|r| r.id.clone()).ok_or_else(|| Error::Usage(format!("import {at} first: {address} belongs to it")))?;
        attrs.insert(parent.id_attr.into(), json!(parent_id));
    }
    let aws = Aws::connect(&spec.region).await;
    let item = ReadItem { address: address.to_string(), id: id.to_string(), attrs };
    let found = provider::read(&aws, node.kind, std::slice::from_ref(&item)).await.map_err(|e| Error::Refresh { kind: node.kind, source: e })?;
    let live = found.get(address).cloned().flatten().ok_or_else(|| Error::Usage(format!("there is no {} {id} in AWS ({})", node.kind, spec.region)))?;
    if let Some(owner) = crate::model::project_tag(&live).filter(|p| *p != spec.project) {
        return Err(Error::Usage(format!(
            "{} {id} carries the tag gwctl:project = {owner}: it belongs to project {owner}, not {}; gwctl never imports another project's resource",
            node.kind, spec.project
        )));
    }
    state.put(ResourceState { address: address.to_string(), kind: node.kind, id: id.to_string(), attributes: live, dependencies: node.deps.clone() });
    store.save(&mut state)?;
    println!("Imported {address} ({} {id}). `gwctl plan` shows how it differs from the spec.", node.kind);
    Ok(0)
}

/// `gwctl graph`: dependencies as DOT, each edge from a resource to what it needs.
pub fn graph(g: &Global) -> Result<u8> {
    let spec = Spec::load(&g.spec)?;
    let mut out = String::from("digraph gwctl {\n  rankdir = LR;\n  node [shape = box, fontname = \"monospace\"];\n");
    for n in graph::nodes(&spec) {
        out.push_str(&format!("  {:?} [label = {:?}];\n", n.address, format!("{}\n{}", n.address, n.kind)));
        for d in &n.deps {
            out.push_str(&format!("  {:?} -> {:?};\n", n.address, d));
        }
    }
    out.push_str("}\n");
    print!("{out}");
    Ok(0)
}

const STARTER_SPEC: &str = include_str!("../../gateway.toml");
const STARTER_USER_DATA: &str = include_str!("../../examples/apache-user-data.sh");

/// `gwctl init`: the seed stack as a starting point. Never overwrites.
pub fn init(g: &Global) -> Result<u8> {
    let dir = g.spec.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let user_data = dir.join("examples/apache-user-data.sh");
    for path in [&g.spec, &user_data] {
        if path.exists() {
            return Err(Error::Usage(format!("{} already exists; gwctl init never overwrites a file", path.display())));
        }
    }
    std::fs::create_dir_all(dir.join("examples"))?;
    std::fs::write(&g.spec, STARTER_SPEC)?;
    std::fs::write(&user_data, STARTER_USER_DATA)?;
    println!("Wrote {} and {}.", g.spec.display(), user_data.display());
    println!("Set [project] name and region, the Cognito issuer and audience, then run `gwctl plan`.");
    Ok(0)
}
