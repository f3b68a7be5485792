//! `gwctl import ADDRESS ID`.

use serde_json::json;

use crate::cli::Global;
use crate::error::{Error, Result};
use crate::provider::aws::Aws;
use crate::provider::{self, ReadItem};
use crate::spec::Spec;
use crate::state::ResourceState;

/// `gwctl import ADDRESS ID`: reads the resource from AWS and records it.
pub async fn import(g: &Global, address: &str, id: &str) -> Result<u8> {
    let spec = Spec::load(&g.spec)?;
    let nodes = crate::provider::nodes(&spec);
    let node = nodes.iter().find(|n| n.address == address).ok_or_else(|| {
        let all: Vec<&str> = nodes.iter().map(|n| n.address.as_str()).collect();
        Error::NotDeclared { address: address.to_string(), spec: g.spec.clone(), declared: all.iter().map(|a| a.to_string()).collect() }
    })?;
    let (mut store, mut state) = super::open_state(g, &spec, "gwctl import")?;
    if let Some(existing) = state.get(address) {
        return Err(Error::AlreadyInState { address: address.to_string(), id: existing.id.clone() });
    }
    let kind = provider::of(node.kind);
    let mut attrs = kind.import_attrs(&spec, node);
    if let Some(parent) = kind.parent() {
        let at = nodes.iter().find(|n| n.kind == parent.kind && node.deps.contains(&n.address)).map(|n| n.address.clone()).unwrap_or_default();
        let parent_id = state.get(&at).map(|r| r.id.clone()).ok_or_else(|| Error::ImportParentFirst { parent: at.clone(), address: address.to_string() })?;
        attrs.insert(parent.id_attr.into(), json!(parent_id));
    }
    let aws = Aws::connect(&spec.region).await;
    let item = ReadItem { address: address.to_string(), id: id.to_string(), attrs };
    let found = provider::read(&aws, node.kind, std::slice::from_ref(&item)).await.map_err(|e| Error::from((node.kind, e)))?;
    let live = found.get(address).cloned().flatten().ok_or_else(|| Error::NotInAws { kind: node.kind, id: id.to_string(), region: spec.region.clone() })?;
    if let Some(owner) = crate::model::project_tag(&live).filter(|p| *p != spec.project) {
        return Err(Error::ForeignImport { kind: node.kind, id: id.to_string(), owner: owner.to_string(), project: spec.project.clone() });
    }
    state.put(ResourceState { address: address.to_string(), kind: node.kind, id: id.to_string(), attributes: live, dependencies: node.deps.clone() });
    store.save(&mut state)?;
    println!("Imported {address} ({} {id}). `gwctl plan` shows how it differs from the spec.", node.kind);
    Ok(0)
}
