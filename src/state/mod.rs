//! The state file of design.md §4: what gwctl created, with ids and the
//! attributes last read from AWS.

mod store;

use serde::{Deserialize, Serialize};

use crate::graph::Kind;
use crate::resources::Attrs;

pub use store::{force_unlock, read, LockInfo, StateError, Store};

/// The state format this gwctl writes; a newer one is refused.
pub const STATE_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    pub serial: u64,
    pub lineage: String,
    pub gwctl_version: String,
    pub resources: Vec<ResourceState>,
    /// Creates that were started and not yet recorded as done: on the next
    /// apply, each is looked up in AWS and adopted if it exists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<Pending>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ResourceState {
    pub address: String,
    pub kind: Kind,
    pub id: String,
    pub attributes: Attrs,
    pub dependencies: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Pending {
    pub address: String,
    pub kind: Kind,
    /// The idempotency token sent with the create (ClientToken where AWS takes one).
    pub token: String,
    pub started_at: String,
}

impl State {
    pub fn new() -> State {
        State {
            version: STATE_VERSION,
            serial: 0,
            lineage: uuid::Uuid::new_v4().to_string(),
            gwctl_version: env!("CARGO_PKG_VERSION").to_string(),
            resources: Vec::new(),
            pending: Vec::new(),
        }
    }

    pub fn get(&self, address: &str) -> Option<&ResourceState> {
        self.resources.iter().find(|r| r.address == address)
    }

    /// Inserts or replaces the entry for `resource.address`.
    pub fn put(&mut self, resource: ResourceState) {
        match self.resources.iter_mut().find(|r| r.address == resource.address) {
            Some(slot) => *slot = resource,
            None => self.resources.push(resource),
        }
    }

    pub fn remove(&mut self, address: &str) -> Option<ResourceState> {
        let i = self.resources.iter().position(|r| r.address == address)?;
        Some(self.resources.remove(i))
    }

    pub fn pending_for(&self, address: &str) -> Option<&Pending> {
        self.pending.iter().find(|p| p.address == address)
    }

    pub fn clear_pending(&mut self, address: &str) {
        self.pending.retain(|p| p.address != address);
    }
}

impl Default for State {
    fn default() -> Self {
        State::new()
    }
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}
