//! Resource addresses and the dependency graph compiled from a spec.

pub(crate) mod walk;

use std::collections::{BTreeSet, HashMap};

use crate::model::Kind;

/// Where in the spec a node comes from: the name of its table entry (a
/// role's, an API's) and, for a part declared inside it, the part's key (an
/// authorizer's name, a route key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub name: String,
    pub part: Option<String>,
}

impl Source {
    pub fn entry(name: &str) -> Source {
        Source { name: name.to_string(), part: None }
    }

    pub fn part(name: &str, part: &str) -> Source {
        Source { name: name.to_string(), part: Some(part.to_string()) }
    }
}

/// A desired resource: address, kind, what it depends on, where it comes from.
#[derive(Debug, Clone)]
pub struct Node {
    pub address: String,
    pub kind: Kind,
    pub deps: Vec<String>,
    pub source: Source,
}

impl Node {
    pub fn new(address: String, kind: Kind, deps: Vec<String>, source: Source) -> Node {
        Node { address, kind, deps, source }
    }
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
