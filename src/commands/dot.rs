//! `gwctl graph`: the dependency graph as DOT.

use crate::cli::Global;
use crate::error::Result;
use crate::spec::Spec;

/// `gwctl graph`: dependencies as DOT, each edge from a resource to what it needs.
pub fn graph(g: &Global) -> Result<u8> {
    let spec = Spec::load(&g.spec)?;
    let mut out = String::from("digraph gwctl {\n  rankdir = LR;\n  node [shape = box, fontname = \"monospace\"];\n");
    for n in crate::provider::nodes(&spec) {
        out.push_str(&format!("  {:?} [label = {:?}];\n", n.address, format!("{}\n{}", n.address, n.kind)));
        for d in &n.deps {
            out.push_str(&format!("  {:?} -> {:?};\n", n.address, d));
        }
    }
    out.push_str("}\n");
    print!("{out}");
    Ok(0)
}
