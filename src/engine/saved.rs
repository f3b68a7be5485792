//! Saved plans: `gwctl plan --out FILE`, then `gwctl apply FILE` applies that
//! plan and nothing else. A saved plan holds what apply needs (the changes,
//! the attributes read while planning, the values looked up, the unmanaged
//! resources to delete) and what makes it stale: the state's lineage and
//! serial, and a hash of the spec and the files it reads.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::plan::{Change, Plan};
use crate::model::{Attrs, Known, Lookups};
use crate::spec::Spec;
use crate::state::State;

pub const FORMAT: &str = "gwctl-plan/1";

#[derive(Debug, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format: String,
    pub gwctl_version: String,
    pub created: String,
    pub spec_sha256: String,
    pub lineage: String,
    pub serial: u64,
    pub changes: Vec<Change>,
    /// Unmanaged resources the plan deletes, by address.
    pub targets: BTreeMap<String, Known>,
    pub live: HashMap<String, Option<Attrs>>,
    pub lookups: Lookups,
}

#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    #[error("cannot read plan file {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{} is not a gwctl plan file ({detail})", path.display())]
    Format { path: PathBuf, detail: String },
    #[error("cannot write plan file {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("the plan in {} is stale: {why}. Run `gwctl plan --out {}` again and review it", path.display(), path.display())]
    Stale { path: PathBuf, why: String },
}

/// A hash of the spec and every file it reads (user data).
pub fn spec_hash(spec: &Spec) -> String {
    let mut h = Sha256::new();
    if let Ok(bytes) = crate::files::read_capped(&spec.file, crate::files::SPEC_MAX) {
        h.update(&bytes);
    }
    for inst in spec.instances.values() {
        if let Some(ud) = &inst.user_data {
            h.update(&ud.bytes);
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl SavedPlan {
    pub fn new(spec: &Spec, state: &State, plan: &Plan, live: &HashMap<String, Option<Attrs>>, lookups: &Lookups) -> SavedPlan {
        SavedPlan {
            format: FORMAT.into(),
            gwctl_version: env!("CARGO_PKG_VERSION").into(),
            created: crate::state::now_rfc3339(),
            spec_sha256: spec_hash(spec),
            lineage: state.lineage.clone(),
            serial: state.serial,
            changes: plan.changes.clone(),
            targets: plan.changes.iter().filter_map(|c| c.target.clone().map(|t| (c.address.clone(), t))).collect(),
            live: live.clone(),
            lookups: lookups.clone(),
        }
    }

    pub fn write(&self, path: &Path) -> Result<(), SavedPlanError> {
        let body = serde_json::to_vec_pretty(self).map_err(|e| SavedPlanError::Write { path: path.into(), source: std::io::Error::other(e) })?;
        std::fs::write(path, body).map_err(|source| SavedPlanError::Write { path: path.into(), source })
    }

    pub fn read(path: &Path) -> Result<SavedPlan, SavedPlanError> {
        let text = crate::files::read_capped_string(path, crate::files::PLAN_MAX).map_err(|source| SavedPlanError::Read { path: path.into(), source })?;
        let saved: SavedPlan = serde_json::from_str(&text).map_err(|e| SavedPlanError::Format { path: path.into(), detail: e.to_string() })?;
        if saved.format != FORMAT {
            return Err(SavedPlanError::Format { path: path.into(), detail: format!("format {}, expected {FORMAT}", saved.format) });
        }
        Ok(saved)
    }

    /// Refuses a plan made from another spec or another version of the state.
    pub fn check_fresh(&self, path: &Path, spec: &Spec, state: &State) -> Result<(), SavedPlanError> {
        let stale = |why: String| Err(SavedPlanError::Stale { path: path.into(), why });
        if self.lineage != state.lineage && !(self.serial == 0 && state.serial == 0) {
            return stale(format!("it was made for another state (lineage {}, the state's is {})", self.lineage, state.lineage));
        }
        if self.serial != state.serial {
            return stale(format!("the state changed since (serial {} when planned, {} now)", self.serial, state.serial));
        }
        if self.spec_hash_differs(spec) {
            return stale(format!("{} or a file it reads changed since", spec.file.display()));
        }
        Ok(())
    }

    fn spec_hash_differs(&self, spec: &Spec) -> bool {
        self.spec_sha256 != spec_hash(spec)
    }

    /// The plan, with the unmanaged targets attached again.
    pub fn plan(&self) -> Plan {
        let mut changes = self.changes.clone();
        for c in &mut changes {
            c.target = self.targets.get(&c.address).cloned();
        }
        Plan { changes }
    }
}
