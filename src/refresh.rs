//! Refresh: read every resource the state records from AWS, all kinds at once,
//! each kind in as few calls as its API allows.

use std::collections::HashMap;

use crate::aws::{Aws, AwsError};
use crate::graph::Kind;
use crate::resources::{self, Attrs, ReadItem};
use crate::state::State;

/// address → live attributes, or `None` when AWS no longer has the resource.
pub async fn refresh(aws: &Aws, state: &State) -> Result<HashMap<String, Option<Attrs>>, (Kind, AwsError)> {
    let mut by_kind: HashMap<Kind, Vec<ReadItem>> = HashMap::new();
    for r in &state.resources {
        by_kind.entry(r.kind).or_default().push(ReadItem { address: r.address.clone(), id: r.id.clone(), attrs: r.attributes.clone() });
    }
    let reads = by_kind.iter().map(|(kind, items)| async move { resources::read(aws, *kind, items).await.map_err(|e| (*kind, e)) });
    let mut out = HashMap::new();
    for part in futures::future::try_join_all(reads).await? {
        out.extend(part);
    }
    Ok(out)
}
