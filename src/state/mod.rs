//! The state file of docs/design.md §4: what gwctl created, with ids and the
//! attributes last read from AWS.

mod store;

use serde::{Deserialize, Serialize};

use crate::model::Kind;
use crate::model::Attrs;

pub mod s3;

pub use store::{LockInfo, StateError};

use std::path::PathBuf;
use std::time::Duration;

use crate::spec::S3StateSpec;

/// Where a state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Local(PathBuf),
    S3(S3StateSpec),
}

impl Location {
    /// The file, or `s3://bucket/key`, as messages name it.
    pub fn display(&self) -> PathBuf {
        match self {
            Location::Local(path) => path.clone(),
            Location::S3(loc) => s3::display(loc),
        }
    }
}

/// Reads the state without locking: `None` when there is none.
pub fn read(location: &Location) -> Result<Option<State>, StateError> {
    match location {
        Location::Local(path) => store::read(path),
        Location::S3(loc) => s3::block(async { Ok(s3::read(&s3::client(loc).await, loc).await?.map(|(state, _)| state)) }),
    }
}

/// Removes the lock if its id is `id`.
pub fn force_unlock(location: &Location, id: &str) -> Result<LockInfo, StateError> {
    match location {
        Location::Local(path) => store::force_unlock(path, id),
        Location::S3(loc) => s3::block(s3::force_unlock(loc, id)),
    }
}

/// A state locked for writing, in a file or in S3. The lock is released on drop.
pub enum Store {
    Local(store::LocalStore),
    S3(Box<s3::S3Store>),
}

impl Store {
    /// Takes the lock (waiting up to `timeout`) and loads the state, or a new
    /// empty one when there is none.
    pub fn open(location: &Location, command: &str, timeout: Duration) -> Result<(Store, State), StateError> {
        match location {
            Location::Local(path) => store::LocalStore::open(path, command, timeout).map(|(s, st)| (Store::Local(s), st)),
            Location::S3(loc) => s3::block(s3::S3Store::open(loc, command, timeout)).map(|(s, st)| (Store::S3(Box::new(s)), st)),
        }
    }

    /// Writes `state` as the next serial; on failure `state` is left as it was.
    pub fn save(&mut self, state: &mut State) -> Result<(), StateError> {
        match self {
            Store::Local(s) => s.save(state),
            Store::S3(s) => {
                let previous = (state.serial, std::mem::replace(&mut state.gwctl_version, env!("CARGO_PKG_VERSION").to_string()));
                state.serial += 1;
                let result = s3::block(s.write(state));
                if result.is_err() {
                    (state.serial, state.gwctl_version) = previous;
                }
                result
            }
        }
    }

    /// Whether the state exists where it is kept (not only in memory).
    pub fn exists(&self) -> bool {
        match self {
            Store::Local(s) => s.path().exists(),
            Store::S3(s) => s.exists(),
        }
    }
}

/// The state format this gwctl writes; a newer one is refused.
pub const STATE_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    pub serial: u64,
    pub lineage: String,
    pub gwctl_version: String,
    /// The project and region this state belongs to (docs/design.md §6): a state
    /// of another project or region is refused before any AWS call. Empty
    /// in states written before gwctl recorded them; filled in on the next write.
    #[serde(default)]
    pub project: String,
    #[serde(default)]
    pub region: String,
    /// The spec file this state was written for, relative to the spec's
    /// folder: a state of a renamed project is recognised by it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub spec: String,
    pub resources: Vec<ResourceState>,
    /// Creates that were started and not yet recorded as done: on the next
    /// apply, each is looked up in AWS and adopted if it exists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<Pending>,
    /// Resources replaced by a new one created first, not yet deleted (a run
    /// stopped between the two): the next plan deletes them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub superseded: Vec<ResourceState>,
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
            project: String::new(),
            region: String::new(),
            spec: String::new(),
            resources: Vec::new(),
            pending: Vec::new(),
            superseded: Vec::new(),
        }
    }

    /// Refuses a state that belongs to another project or region; a state
    /// that does not say (new, or from an older gwctl) is claimed for this one.
    pub fn claim(&mut self, path: &std::path::Path, project: &str, region: &str, spec_file: &str) -> Result<(), StateError> {
        let mismatch = |what: &'static str, found: &str, expected: &str| StateError::OtherStack {
            path: path.to_path_buf(),
            what,
            found: found.to_string(),
            expected: expected.to_string(),
        };
        if !self.project.is_empty() && self.project != project {
            return Err(mismatch("project", &self.project, project));
        }
        if !self.region.is_empty() && self.region != region {
            return Err(mismatch("region", &self.region, region));
        }
        self.project = project.to_string();
        self.region = region.to_string();
        if self.spec.is_empty() {
            self.spec = spec_file.to_string();
        }
        Ok(())
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

    /// Moves the entry at `address` aside as superseded: a new resource is
    /// about to be created for the address before the old one is deleted.
    pub fn supersede(&mut self, address: &str) {
        if let Some(old) = self.remove(address) {
            self.superseded.push(old);
        }
    }

    /// Forgets the resource `id` once deleted: the entry at `address` if it
    /// is that resource (not the one that replaced it), and any superseded entry.
    pub fn forget(&mut self, address: &str, id: &str) {
        if self.get(address).is_some_and(|r| r.id == id) {
            self.remove(address);
        }
        self.superseded.retain(|r| r.id != id);
    }

    /// The ids of the resources a new one at `address` replaces: the one
    /// recorded there when `supersede` is about to move it aside, and those
    /// already superseded. The new one is never any of them.
    pub fn replaced_ids(&self, address: &str, supersede: bool) -> Vec<String> {
        let current = self.get(address).filter(|_| supersede).map(|r| r.id.clone());
        current.into_iter().chain(self.superseded.iter().filter(|r| r.address == address).map(|r| r.id.clone())).collect()
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

/// When there is no state at `path`: a state beside it, written for the same
/// spec file under another project name, with resources. That is what a
/// renamed `[project] name` leaves behind; building anew would make a
/// second stack beside the first.
pub fn find_renamed(path: &std::path::Path, project: &str, spec_file: &str) -> Option<(std::path::PathBuf, State)> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let entries = std::fs::read_dir(dir).ok()?;
    let mut found: Vec<(std::path::PathBuf, State)> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json") && p.as_path() != path)
        .filter_map(|p| store::read(&p).ok().flatten().map(|s| (p, s)))
        .filter_map(|(p, mut s)| {
            // A state from before gwctl recorded its project and spec is named after its project.
            if s.project.is_empty() {
                s.project = p.file_stem()?.to_string_lossy().into_owned();
                s.spec = spec_file.to_string();
            }
            Some((p, s))
        })
        .filter(|(_, s)| !s.resources.is_empty() && s.project != project && s.spec == spec_file)
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found.into_iter().next()
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_of_another_project_or_region_is_refused_and_an_unmarked_one_claimed() {
        let path = std::path::Path::new("state/p.json");
        let mut old = State::new();
        old.claim(path, "p", "ap-south-1", "gateway.toml").unwrap();
        assert_eq!((old.project.as_str(), old.region.as_str(), old.spec.as_str()), ("p", "ap-south-1", "gateway.toml"));
        let mut other = old.clone();
        assert!(matches!(other.claim(path, "q", "ap-south-1", "gateway.toml"), Err(StateError::OtherStack { what: "project", .. })));
        assert!(matches!(other.claim(path, "p", "eu-west-1", "gateway.toml"), Err(StateError::OtherStack { what: "region", .. })));
    }

    #[test]
    fn a_renamed_projects_state_is_found_beside_the_new_path() {
        let dir = tempfile::tempdir().unwrap();
        let old_path = dir.path().join("old.json");
        let mut old = State::new();
        old.claim(&old_path, "old", "ap-south-1", "gateway.toml").unwrap();
        old.put(ResourceState { address: "api.main".into(), kind: Kind::named("api"), id: "a".into(), attributes: Attrs::new(), dependencies: vec![] });
        std::fs::write(&old_path, serde_json::to_vec(&old).unwrap()).unwrap();
        let new_path = dir.path().join("new.json");
        let (found, state) = find_renamed(&new_path, "new", "gateway.toml").expect("found");
        assert_eq!((found, state.project.as_str()), (old_path, "old"));
        assert!(find_renamed(&new_path, "new", "other.toml").is_none(), "another spec's state is another stack");
        assert!(find_renamed(&new_path, "old", "gateway.toml").is_none());
    }
}
