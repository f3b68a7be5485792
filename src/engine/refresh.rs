//! Refresh: read every resource the state records from AWS, all kinds at
//! once, each kind in as few calls as its API allows. Kinds that live inside
//! a parent (an API's routes, integrations, authorizers, stages) are listed
//! once per parent, which also finds the ones the state does not know: the
//! spec is authoritative inside its parents, so those are reported as
//! unmanaged.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::graph::Node;
use crate::model::{s, Attrs, Kind, Known, Lookups};
use crate::provider::aws::{Aws, AwsError};
use crate::provider::{self, Env, ReadItem};
use crate::engine::Mode;
use crate::state::State;

/// What reading AWS before a plan can fail on.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("reading {0} resources from AWS: {1}")]
    Read(Kind, AwsError),
    #[error("looking up values the spec refers to: {0}")]
    Lookup(AwsError),
}

impl From<(Kind, AwsError)> for RefreshError {
    fn from((kind, e): (Kind, AwsError)) -> Self {
        RefreshError::Read(kind, e)
    }
}

/// A resource in AWS that gwctl owns the place of but the state does not record.
#[derive(Debug, Clone)]
pub struct Unmanaged {
    /// A readable address, e.g. `route.main["GET /admin"]`.
    pub address: String,
    pub kind: Kind,
    pub id: String,
    pub attrs: Attrs,
    /// Where it was found: its parent's address (`api.main`), or the project tag.
    pub found_in: String,
}

#[derive(Debug, Default)]
pub struct Refresh {
    /// address → live attributes, or `None` when AWS no longer has it.
    pub live: HashMap<String, Option<Attrs>>,
    pub unmanaged: Vec<Unmanaged>,
}

/// A parent resource whose children are listed: its kind, and its address
/// when the state or the spec gives one (children of a parent the state
/// forgot are still matched, but none are reported as unmanaged).
#[derive(Debug, Clone)]
struct ParentAt {
    kind: Kind,
    address: Option<String>,
}

pub async fn refresh(aws: &Aws, state: &State) -> Result<Refresh, (Kind, AwsError)> {
    let mut by_kind: HashMap<Kind, Vec<ReadItem>> = HashMap::new();
    for r in state.resources.iter().filter(|r| provider::of(r.kind).parent().is_none()) {
        by_kind.entry(r.kind).or_default().push(ReadItem { address: r.address.clone(), id: r.id.clone(), attrs: r.attributes.clone() });
    }
    let reads = by_kind.iter().map(|(kind, items)| async move { provider::read(aws, *kind, items).await.map_err(|e| (*kind, e)) });
    let (parts, children) = futures::join!(futures::future::try_join_all(reads), children(aws, state));
    let mut out = children?;
    for part in parts? {
        out.live.extend(part);
    }
    Ok(out)
}

/// Every child of every parent the state knows (one paginated list per kind
/// and parent), matched to the state by id; the rest are unmanaged.
async fn children(aws: &Aws, state: &State) -> Result<Refresh, (Kind, AwsError)> {
    let mut parents: BTreeMap<String, ParentAt> = BTreeMap::new();
    for r in state.resources.iter().filter(|r| provider::is_parent(r.kind)) {
        parents.insert(r.id.clone(), ParentAt { kind: r.kind, address: Some(r.address.clone()) });
    }
    for r in &state.resources {
        let Some(parent) = provider::of(r.kind).parent() else { continue };
        let id = s(&r.attributes, parent.id_attr);
        if !id.is_empty() {
            parents.entry(id.to_string()).or_insert(ParentAt { kind: parent.kind, address: None });
        }
    }
    let mut known: HashMap<(Kind, String), Vec<String>> = HashMap::new();
    for r in &state.resources {
        if let Some(parent) = provider::of(r.kind).parent() {
            known.entry((r.kind, s(&r.attributes, parent.id_attr).to_string())).or_default().push(r.id.clone());
        }
    }
    let mut found = list_children(aws, &parents, &known).await?;
    let mut out = Refresh::default();
    for r in &state.resources {
        let Some(parent) = provider::of(r.kind).parent() else { continue };
        let key = (r.kind, s(&r.attributes, parent.id_attr).to_string());
        let live = found
            .get_mut(&key)
            .and_then(|items| items.as_mut())
            .and_then(|items| items.iter().position(|(id, _)| id == &r.id).map(|i| items.swap_remove(i).1))
            .map(|mut live| {
                provider::of(r.kind).keep_recorded(&r.attributes, &mut live);
                live
            });
        out.live.insert(r.address.clone(), live);
    }
    out.unmanaged = unmanaged(found, &parents);
    Ok(out)
}

/// The children of each parent, by (kind, parent id); `None` where the
/// parent is gone. `known` are the children the state records, by the same key.
async fn list_children(
    aws: &Aws,
    parents: &BTreeMap<String, ParentAt>,
    known: &HashMap<(Kind, String), Vec<String>>,
) -> Result<HashMap<(Kind, String), Option<Vec<(String, Attrs)>>>, (Kind, AwsError)> {
    let lists = parents.iter().flat_map(|(parent_id, at)| {
        provider::child_kinds().filter(move |(_, p)| p.kind == at.kind).map(move |(kind, _)| async move {
            let known = known.get(&(kind.kind(), parent_id.clone())).map(Vec::as_slice).unwrap_or_default();
            let listed = kind.list_in(aws, parent_id, known).await.map_err(|e| (kind.kind(), e))?;
            Ok::<_, (Kind, AwsError)>(((kind.kind(), parent_id.clone()), listed))
        })
    });
    Ok(futures::future::try_join_all(lists).await?.into_iter().collect())
}

/// What was listed and not matched, for parents with an address.
fn unmanaged(found: HashMap<(Kind, String), Option<Vec<(String, Attrs)>>>, parents: &BTreeMap<String, ParentAt>) -> Vec<Unmanaged> {
    let mut out = Vec::new();
    for ((kind, parent_id), items) in found {
        let Some(parent) = parents.get(&parent_id).and_then(|p| p.address.as_deref()) else { continue };
        for (id, attrs) in items.into_iter().flatten() {
            let address = provider::of(kind).unmanaged_address(parent, &id, &attrs);
            out.push(Unmanaged { address, kind, id, attrs, found_in: parent.to_string() });
        }
    }
    out.sort_by(|a, b| a.address.cmp(&b.address));
    out
}

/// What a lost state leaves in AWS for the spec's addresses.
#[derive(Debug, Default)]
pub struct Discovered {
    /// address → the resource this project made for it (both gwctl tags match).
    pub found: HashMap<String, Known>,
    /// The children of the parents found, for the planner to adopt by natural key.
    pub children: Vec<Unmanaged>,
    /// address → why its create will be refused: a resource of its name that
    /// is not this project's for this address.
    pub conflicts: HashMap<String, String>,
}

/// Looks up, for every declared address that has no live resource in the
/// state (a lost or deleted state file, `gwctl state rm`, a run killed before
/// it saved), the resource this project made for it: by name or by its gwctl
/// tags, never one tagged for another project or address. The children of a
/// parent found this way are listed so that the planner adopts them by their
/// natural keys instead of creating them twice. Costs nothing when the state
/// knows every address.
pub async fn discover(
    aws: &Aws,
    spec: &crate::spec::Spec,
    nodes: &[Node],
    state: &State,
    live: &HashMap<String, Option<Attrs>>,
    lookups: &Lookups,
) -> Result<Discovered, (Kind, AwsError)> {
    let no_deps = HashMap::new();
    let env = Env { spec, lookups, known: &no_deps };
    let missing = nodes.iter().filter(|n| provider::of(n.kind).parent().is_none() && !matches!(live.get(&n.address), Some(Some(_))));
    let finds = missing.map(|n| {
        let mut want = provider::desired(&env, n);
        crate::model::set_replaces(&mut want, state.replaced_ids(&n.address, false));
        async move {
            let found = provider::find(aws, n.kind, &n.address, &want).await.map_err(|e| (n.kind, e))?;
            Ok::<_, (Kind, AwsError)>((n, found))
        }
    });
    let mut found: HashMap<String, Known> = HashMap::new();
    let mut conflicts = HashMap::new();
    for (n, f) in futures::future::try_join_all(finds).await? {
        match f {
            provider::Found::Nothing => {}
            provider::Found::Ours(k) => {
                found.insert(n.address.clone(), k);
            }
            provider::Found::Other(k) => {
                let whose = match (crate::model::project_tag(&k.attrs), k.attrs.get("tags").and_then(|t| t.get("gwctl:address")).and_then(|v| v.as_str())) {
                    (Some(p), Some(a)) => format!("it is {a} of project {p}"),
                    (Some(p), None) => format!("it belongs to project {p}"),
                    (None, _) => "it carries no gwctl tags".to_string(),
                };
                conflicts.insert(
                    n.address.clone(),
                    format!("{} {} already exists and {whose}: the create will be refused; rename or delete it, or `gwctl import` it", n.kind, k.id),
                );
            }
        }
    }
    let parents: BTreeMap<String, ParentAt> = nodes
        .iter()
        .filter(|n| provider::is_parent(n.kind))
        .filter_map(|n| found.get(&n.address).map(|k| (k.id.clone(), ParentAt { kind: n.kind, address: Some(n.address.clone()) })))
        .collect();
    // Children the state records (of a parent it forgot) are matched there, not adopted again.
    let recorded: HashSet<(Kind, &str, &str)> = state
        .resources
        .iter()
        .filter_map(|r| Some((r.kind, s(&r.attributes, provider::of(r.kind).parent()?.id_attr), r.id.as_str())))
        .collect();
    let mut children = unmanaged(list_children(aws, &parents, &HashMap::new()).await?, &parents);
    children.retain(|u| {
        let parent_id = provider::of(u.kind).parent().map(|p| s(&u.attrs, p.id_attr)).unwrap_or_default();
        !recorded.contains(&(u.kind, parent_id, u.id.as_str()))
    });
    Ok(Discovered { found, children, conflicts })
}

/// Resources carrying this project's `gwctl:project` tag that the state does
/// not record, from every kind that can search by tag (CloudWatch Logs
/// cannot filter groups by tag, so log groups are not scanned).
pub async fn scan_tagged(aws: &Aws, project: &str, state: &State) -> Result<Vec<Unmanaged>, (Kind, AwsError)> {
    let known: HashSet<&str> = state.resources.iter().map(|r| r.id.as_str()).collect();
    let known = &known;
    let scans = provider::KINDS.iter().map(|k| async move { k.scan_tagged(aws, project, known).await.map(|found| (k.kind(), found)).map_err(|e| (k.kind(), e)) });
    let found_in = format!("tag gwctl:project={project}");
    let mut out = Vec::new();
    for (kind, found) in futures::future::try_join_all(scans).await? {
        for (address, id) in found {
            out.push(Unmanaged { address, kind, id, attrs: Attrs::new(), found_in: found_in.clone() });
        }
    }
    Ok(out)
}

/// Everything a plan needs, read from AWS.
pub struct Refreshed {
    pub live: HashMap<String, Option<Attrs>>,
    pub unmanaged: Vec<Unmanaged>,
    pub lookups: Lookups,
    /// Declared resources found in AWS that the state does not record.
    pub adopted: HashMap<String, Known>,
    /// Declared resources whose create AWS will refuse, and why.
    pub conflicts: HashMap<String, String>,
}

/// Reads everything a plan needs: the state's resources, the values the spec
/// refers to (VPCs, AMIs; not for a destroy), and the declared resources the
/// state lacks (adopted by a plan, refused by a destroy).
pub async fn read_all(aws: &Aws, spec: &crate::spec::Spec, nodes: &[Node], state: &State, mode: Mode) -> Result<Refreshed, RefreshError> {
    let lookups = async {
        if mode == Mode::Destroy {
            return Ok(Lookups::default());
        }
        provider::lookups(aws, spec, state).await.map_err(RefreshError::Lookup)
    };
    let (refreshed, lookups) = futures::join!(refresh(aws, state), lookups);
    let (refreshed, mut lookups) = (refreshed.map_err(RefreshError::from)?, lookups?);
    let mut unmanaged = refreshed.unmanaged;
    // Declared resources the state lacks: adopted by a plan, refused by a destroy.
    let found = discover(aws, spec, nodes, state, &refreshed.live, &lookups).await.map_err(RefreshError::from)?;
    // What an adopted resource pins (an instance its AMI), as a recorded one does.
    for node in nodes {
        if let Some(k) = found.found.get(&node.address) {
            provider::of(node.kind).pin(&node.address, k, &mut lookups);
        }
    }
    if mode == Mode::Normal {
        unmanaged.extend(found.children);
    }
    let (adopted, conflicts) = (found.found, found.conflicts);
    Ok(Refreshed { live: refreshed.live, unmanaged, lookups, adopted, conflicts })
}
