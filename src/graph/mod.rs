//! Resource addresses and the dependency graph compiled from a spec.

pub(crate) mod walk;

use std::collections::{BTreeSet, HashMap};


use crate::model::Kind;
use crate::spec::Spec;

/// What a node was compiled from: the spec table and, for API parts, its API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Role(String),
    InstanceProfile(String),
    SecurityGroup(String),
    Instance(String),
    LogGroup(String),
    Api(String),
    Authorizer { api: String, name: String },
    Integration(String),
    Route { api: String, route: String },
    Stage(String),
}

/// A desired resource: address, kind, what it depends on, where it comes from.
#[derive(Debug, Clone)]
pub struct Node {
    pub address: String,
    pub kind: Kind,
    pub deps: Vec<String>,
    pub source: Source,
}

pub mod address {
    pub fn role(name: &str) -> String {
        format!("role.{name}")
    }
    pub fn instance_profile(name: &str) -> String {
        format!("instance_profile.{name}")
    }
    pub fn security_group(name: &str) -> String {
        format!("security_group.{name}")
    }
    pub fn instance(name: &str) -> String {
        format!("instance.{name}")
    }
    pub fn log_group(name: &str) -> String {
        format!("log_group.{name}")
    }
    pub fn api(name: &str) -> String {
        format!("api.{name}")
    }
    pub fn authorizer(api: &str, name: &str) -> String {
        format!("authorizer.{api}.{name}")
    }
    pub fn integration(api: &str) -> String {
        format!("integration.{api}")
    }
    pub fn route(api: &str, route: &str) -> String {
        format!("route.{api}[\"{route}\"]")
    }
    pub fn stage(api: &str) -> String {
        format!("stage.{api}")
    }
}

/// Compiles a spec into its nodes, in topological order.
pub fn nodes(spec: &Spec) -> Vec<Node> {
    let mut out = Vec::new();
    for name in spec.roles.keys() {
        out.push(Node {
            address: address::role(name),
            kind: Kind::IamRole,
            deps: vec![],
            source: Source::Role(name.clone()),
        });
        out.push(Node {
            address: address::instance_profile(name),
            kind: Kind::InstanceProfile,
            deps: vec![address::role(name)],
            source: Source::InstanceProfile(name.clone()),
        });
    }
    for name in spec.security_groups.keys() {
        out.push(Node {
            address: address::security_group(name),
            kind: Kind::SecurityGroup,
            deps: vec![],
            source: Source::SecurityGroup(name.clone()),
        });
    }
    for (name, inst) in &spec.instances {
        let mut deps: Vec<String> = inst.role.iter().map(|r| address::instance_profile(r)).collect();
        deps.extend(inst.security_groups.iter().map(|g| address::security_group(g)));
        out.push(Node {
            address: address::instance(name),
            kind: Kind::Instance,
            deps,
            source: Source::Instance(name.clone()),
        });
    }
    for name in spec.log_groups.keys() {
        out.push(Node {
            address: address::log_group(name),
            kind: Kind::LogGroup,
            deps: vec![],
            source: Source::LogGroup(name.clone()),
        });
    }
    for (name, api) in &spec.apis {
        let api_addr = address::api(name);
        out.push(Node {
            address: api_addr.clone(),
            kind: Kind::Api,
            deps: vec![],
            source: Source::Api(name.clone()),
        });
        for auth in api.authorizers.keys() {
            out.push(Node {
                address: address::authorizer(name, auth),
                kind: Kind::Authorizer,
                deps: vec![api_addr.clone()],
                source: Source::Authorizer { api: name.clone(), name: auth.clone() },
            });
        }
        out.push(Node {
            address: address::integration(name),
            kind: Kind::Integration,
            deps: vec![api_addr.clone(), address::instance(&api.backend)],
            source: Source::Integration(name.clone()),
        });
        for (key, route) in &api.routes {
            let mut deps = vec![api_addr.clone(), address::integration(name)];
            if let Some(auth) = &route.authorizer {
                deps.push(address::authorizer(name, auth));
            }
            out.push(Node {
                address: address::route(name, key),
                kind: Kind::Route,
                deps,
                source: Source::Route { api: name.clone(), route: key.clone() },
            });
        }
        if let Some(stage) = &api.stage {
            let mut deps = vec![api_addr.clone()];
            if let Some(log) = &stage.access_log {
                deps.push(address::log_group(log));
            }
            if !stage.auto_deploy {
                deps.push(address::integration(name));
                deps.extend(api.routes.keys().map(|k| address::route(name, k)));
            }
            out.push(Node {
                address: address::stage(name),
                kind: Kind::Stage,
                deps,
                source: Source::Stage(name.clone()),
            });
        }
    }
    topo_sort(out)
}

/// Orders nodes so that each comes after everything it depends on.
pub fn topo_sort(nodes: Vec<Node>) -> Vec<Node> {
    topo_sort_by(nodes, |n| &n.address, |n| &n.deps)
}

/// Orders items so that each comes after everything it depends on; ties keep
/// their input order. Dependencies on unknown addresses are ignored; a cycle
/// (impossible from a validated spec) leaves the rest in input order.
pub(crate) fn topo_sort_by<T>(items: Vec<T>, address: impl Fn(&T) -> &str, deps: impl Fn(&T) -> &[String]) -> Vec<T> {
    let index: HashMap<&str, usize> = items.iter().enumerate().map(|(i, n)| (address(n), i)).collect();
    let mut indegree = vec![0usize; items.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); items.len()];
    for (i, n) in items.iter().enumerate() {
        for d in deps(n) {
            if let Some(&j) = index.get(d.as_str()) {
                indegree[i] += 1;
                dependents[j].push(i);
            }
        }
    }
    let mut ready: BTreeSet<usize> = (0..items.len()).filter(|&i| indegree[i] == 0).collect();
    let mut order = Vec::with_capacity(items.len());
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &j in &dependents[i] {
            indegree[j] -= 1;
            if indegree[j] == 0 {
                ready.insert(j);
            }
        }
    }
    let placed: BTreeSet<usize> = order.iter().copied().collect();
    order.extend((0..items.len()).filter(|i| !placed.contains(i)));
    drop(index);
    let mut slots: Vec<Option<T>> = items.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}
