//! Refresh: read every resource the state records from AWS, all kinds at
//! once, each kind in as few calls as its API allows. The children of each
//! managed API (routes, integrations, authorizers, stages) are listed once per
//! API, which also finds the ones the state does not know: the spec is
//! authoritative for its API, so those are reported as unmanaged.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::aws::{Aws, AwsError};
use crate::graph::{Kind, Node, Source};
use crate::resources::{self, api, s, Attrs, Env, Known, Lookups, ReadItem};
use crate::state::State;

const API_CHILDREN: [Kind; 4] = [Kind::Route, Kind::Integration, Kind::Authorizer, Kind::Stage];

/// A resource in AWS that gwctl owns the place of but the state does not record.
#[derive(Debug, Clone)]
pub struct Unmanaged {
    /// A readable address, e.g. `route.main["GET /admin"]`.
    pub address: String,
    pub kind: Kind,
    pub id: String,
    pub attrs: Attrs,
    /// Where it was found, e.g. `api.main`, or the project tag.
    pub found_in: String,
}

#[derive(Debug, Default)]
pub struct Refresh {
    /// address → live attributes, or `None` when AWS no longer has it.
    pub live: HashMap<String, Option<Attrs>>,
    pub unmanaged: Vec<Unmanaged>,
}

pub async fn refresh(aws: &Aws, state: &State) -> Result<Refresh, (Kind, AwsError)> {
    let mut by_kind: HashMap<Kind, Vec<ReadItem>> = HashMap::new();
    for r in &state.resources {
        if !API_CHILDREN.contains(&r.kind) {
            by_kind.entry(r.kind).or_default().push(ReadItem { address: r.address.clone(), id: r.id.clone(), attrs: r.attributes.clone() });
        }
    }
    let reads = by_kind.iter().map(|(kind, items)| async move { resources::read(aws, *kind, items).await.map_err(|e| (*kind, e)) });
    let (parts, children) = futures::join!(futures::future::try_join_all(reads), api_children(aws, state));
    let mut out = children?;
    for part in parts? {
        out.live.extend(part);
    }
    Ok(out)
}

/// What a lost state leaves in AWS for the spec's addresses.
#[derive(Debug, Default)]
pub struct Discovered {
    /// address → the resource this project made for it (both gwctl tags match).
    pub found: HashMap<String, Known>,
    /// The children of the APIs found, for the planner to adopt by natural key.
    pub children: Vec<Unmanaged>,
}

/// Looks up, for every declared address that has no live resource in the
/// state (a lost or deleted state file, `gwctl state rm`, a run killed before
/// it saved), the resource this project made for it: by name or by its gwctl
/// tags, never one tagged for another project or address. The children of an
/// API found this way are listed so that the planner adopts them by their
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
    let missing = nodes.iter().filter(|n| !API_CHILDREN.contains(&n.kind) && !matches!(live.get(&n.address), Some(Some(_))));
    let finds = missing.map(|n| {
        let want = resources::desired(&env, n);
        async move {
            let found = resources::find(aws, n.kind, &n.address, &want).await.map_err(|e| (n.kind, e))?;
            Ok::<_, (Kind, AwsError)>(found.map(|k| (n.address.clone(), k)))
        }
    });
    let found: HashMap<String, Known> = futures::future::try_join_all(finds).await?.into_iter().flatten().collect();
    let apis: BTreeMap<String, String> = nodes
        .iter()
        .filter_map(|n| match &n.source {
            Source::Api(name) => found.get(&n.address).map(|k| (k.id.clone(), name.clone())),
            _ => None,
        })
        .collect();
    let recorded: std::collections::HashSet<&str> = state.resources.iter().map(|r| r.id.as_str()).collect();
    let mut children = list_unmanaged(aws, &apis).await?;
    children.retain(|u| !recorded.contains(u.id.as_str()));
    Ok(Discovered { found, children })
}

/// Every child of the given APIs (id → name in addresses), as unmanaged.
async fn list_unmanaged(aws: &Aws, apis: &BTreeMap<String, String>) -> Result<Vec<Unmanaged>, (Kind, AwsError)> {
    let lists = apis.iter().flat_map(|(api_id, name)| {
        API_CHILDREN.iter().map(move |&kind| async move {
            let listed = api::list_children(aws, kind, api_id).await.map_err(|e| (kind, e))?;
            Ok::<_, (Kind, AwsError)>(listed.unwrap_or_default().into_iter().map(move |(id, attrs)| Unmanaged {
                address: child_address(kind, name, &id, &attrs),
                kind,
                id,
                attrs,
                found_in: format!("api.{name}"),
            }))
        })
    });
    Ok(futures::future::try_join_all(lists).await?.into_iter().flatten().collect())
}

/// Lists the four child kinds of every API in the state (one paginated call
/// each per API), matches them to the state, and keeps the rest as unmanaged.
async fn api_children(aws: &Aws, state: &State) -> Result<Refresh, (Kind, AwsError)> {
    // api id → the API's name in addresses ("main" for api.main).
    let mut apis: BTreeMap<String, String> = BTreeMap::new();
    for r in state.resources.iter().filter(|r| r.kind == Kind::Api) {
        apis.insert(r.id.clone(), r.address.trim_start_matches("api.").to_string());
    }
    for r in state.resources.iter().filter(|r| API_CHILDREN.contains(&r.kind)) {
        let api_id = s(&r.attributes, "api_id");
        if !api_id.is_empty() && !apis.contains_key(api_id) {
            apis.insert(api_id.to_string(), String::new());
        }
    }
    let lists = apis.keys().flat_map(|api_id| {
        API_CHILDREN.iter().map(move |&kind| async move {
            let listed = api::list_children(aws, kind, api_id).await.map_err(|e| (kind, e))?;
            Ok::<_, (Kind, AwsError)>((kind, api_id.clone(), listed))
        })
    });
    let listed = futures::future::try_join_all(lists).await?;
    let mut found: HashMap<(Kind, String), Option<Vec<(String, Attrs)>>> = HashMap::new();
    for (kind, api_id, items) in listed {
        found.insert((kind, api_id), items);
    }
    let mut out = Refresh::default();
    for r in state.resources.iter().filter(|r| API_CHILDREN.contains(&r.kind)) {
        let key = (r.kind, s(&r.attributes, "api_id").to_string());
        let live = found
            .get_mut(&key)
            .and_then(|items| items.as_mut())
            .and_then(|items| items.iter().position(|(id, _)| id == &r.id).map(|i| items.swap_remove(i).1));
        out.live.insert(r.address.clone(), live);
    }
    for ((kind, api_id), items) in found {
        let Some(name) = apis.get(&api_id).filter(|n| !n.is_empty()) else { continue };
        for (id, attrs) in items.into_iter().flatten() {
            out.unmanaged.push(Unmanaged { address: child_address(kind, name, &id, &attrs), kind, id, attrs, found_in: format!("api.{name}") });
        }
    }
    out.unmanaged.sort_by(|a, b| a.address.cmp(&b.address));
    Ok(out)
}

fn child_address(kind: Kind, api: &str, id: &str, attrs: &Attrs) -> String {
    let label = |key: &str| attrs.get(key).and_then(Value::as_str).unwrap_or(id).to_string();
    match kind {
        Kind::Route => format!("route.{api}[\"{}\"]", label("route_key")),
        Kind::Authorizer => format!("authorizer.{api}[\"{}\"]", label("name")),
        Kind::Stage => format!("stage.{api}[\"{}\"]", label("name")),
        _ => format!("{kind}.{api}[\"{id}\"]"),
    }
}

/// Resources carrying this project's `gwctl:project` tag that the state does
/// not record: instances, security groups, APIs, and roles named
/// `<project>-*`. (CloudWatch Logs cannot filter groups by tag, so log groups
/// are not scanned.)
pub async fn scan_tagged(aws: &Aws, project: &str, state: &State) -> Result<Vec<Unmanaged>, (Kind, AwsError)> {
    use aws_sdk_ec2::types::Filter;
    use futures::TryFutureExt;
    let known: std::collections::HashSet<&str> = state.resources.iter().map(|r| r.id.as_str()).collect();
    let found_in = format!("tag gwctl:project={project}");
    let tag_filter = Filter::builder().name("tag:gwctl:project").values(project).build();
    let address_of = |tags: &[aws_sdk_ec2::types::Tag], id: &str| {
        tags.iter().find(|t| t.key() == Some("gwctl:address")).and_then(|t| t.value()).unwrap_or(id).to_string()
    };
    let instances = aws
        .ec2
        .describe_instances()
        .filters(tag_filter.clone())
        .filters(Filter::builder().name("instance-state-name").values("pending").values("running").values("stopping").values("stopped").build())
        .send()
        .map_err(|e| (Kind::Instance, crate::aws::err("ec2:DescribeInstances")(e)));
    let groups = aws
        .ec2
        .describe_security_groups()
        .filters(tag_filter.clone())
        .send()
        .map_err(|e| (Kind::SecurityGroup, crate::aws::err("ec2:DescribeSecurityGroups")(e)));
    let apis = async {
        let mut all = Vec::new();
        let mut token = None;
        loop {
            let page = aws.apigw.get_apis().set_next_token(token).send().await.map_err(|e| (Kind::Api, crate::aws::err("apigateway:GetApis")(e)))?;
            all.extend(page.items().iter().cloned());
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok::<_, (Kind, AwsError)>(all);
            }
        }
    };
    let roles = async {
        let prefix = format!("{project}-");
        let listed: Vec<_> = aws
            .iam
            .list_roles()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| (Kind::IamRole, crate::aws::err("iam:ListRoles")(e)))?;
        let candidates: Vec<String> = listed.into_iter().map(|r| r.role_name).filter(|n| n.starts_with(&prefix) && !known.contains(n.as_str())).collect();
        let mut out = Vec::new();
        for name in candidates {
            let tags = aws.iam.list_role_tags().role_name(&name).send().await.map_err(|e| (Kind::IamRole, crate::aws::err("iam:ListRoleTags")(e)))?;
            if tags.tags().iter().any(|t| t.key == "gwctl:project" && t.value == project) {
                let address = tags.tags().iter().find(|t| t.key == "gwctl:address").map(|t| t.value.clone()).unwrap_or_else(|| name.clone());
                out.push((address, name));
            }
        }
        Ok::<_, (Kind, AwsError)>(out)
    };
    let (instances, groups, apis, roles) = futures::join!(instances, groups, apis, roles);
    let mut out = Vec::new();
    let mut push = |address: String, kind: Kind, id: String| {
        out.push(Unmanaged { address, kind, id, attrs: Attrs::new(), found_in: found_in.clone() });
    };
    for i in instances?.reservations().iter().flat_map(|r| r.instances()) {
        let id = i.instance_id().unwrap_or_default();
        if !known.contains(id) {
            push(address_of(i.tags(), id), Kind::Instance, id.to_string());
        }
    }
    for g in groups?.security_groups() {
        let id = g.group_id().unwrap_or_default();
        if !known.contains(id) {
            push(address_of(g.tags(), id), Kind::SecurityGroup, id.to_string());
        }
    }
    for a in apis? {
        let tags = a.tags();
        let ours = tags.and_then(|t| t.get("gwctl:project")).is_some_and(|p| p == project);
        let id = a.api_id().unwrap_or_default();
        if ours && !known.contains(id) {
            let address = tags.and_then(|t| t.get("gwctl:address")).cloned().unwrap_or_else(|| id.to_string());
            push(address, Kind::Api, id.to_string());
        }
    }
    for (address, name) in roles? {
        push(address, Kind::IamRole, name);
    }
    Ok(out)
}
