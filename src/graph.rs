//! Resource addresses, kinds and the dependency graph compiled from a spec.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::spec::Spec;

/// The ten kinds of resource gwctl manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    IamRole,
    InstanceProfile,
    SecurityGroup,
    Instance,
    LogGroup,
    Api,
    Authorizer,
    Integration,
    Route,
    Stage,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::IamRole => "iam_role",
            Kind::InstanceProfile => "instance_profile",
            Kind::SecurityGroup => "security_group",
            Kind::Instance => "instance",
            Kind::LogGroup => "log_group",
            Kind::Api => "api",
            Kind::Authorizer => "authorizer",
            Kind::Integration => "integration",
            Kind::Route => "route",
            Kind::Stage => "stage",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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

/// Orders items so that each comes after everything it depends on; ties keep
/// their input order. Dependencies on unknown addresses are ignored; a cycle
/// (impossible from a validated spec) leaves the rest in input order.
pub fn topo_sort(nodes: Vec<Node>) -> Vec<Node> {
    let index: HashMap<&str, usize> = nodes.iter().enumerate().map(|(i, n)| (n.address.as_str(), i)).collect();
    let mut indegree = vec![0usize; nodes.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        for d in &n.deps {
            if let Some(&j) = index.get(d.as_str()) {
                indegree[i] += 1;
                dependents[j].push(i);
            }
        }
    }
    let mut ready: BTreeSet<usize> = (0..nodes.len()).filter(|&i| indegree[i] == 0).collect();
    let mut order = Vec::with_capacity(nodes.len());
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
    order.extend((0..nodes.len()).filter(|i| !placed.contains(i)));
    let mut slots: Vec<Option<Node>> = nodes.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}
