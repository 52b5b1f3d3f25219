//! Graphviz rendering of a graph, for looking at it: `irc dot model.irc | dot -Tsvg > model.svg`.

use std::fmt::Write;

use crate::text::{fmt_f64, op_attrs};
use crate::{Graph, Op};

/// Attribute values longer than this are cut in labels (a literal's data can be long).
const MAX_ATTR_CHARS: usize = 32;

/// Escapes text for a double-quoted DOT string; newlines become DOT's centred line break.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn clip(s: String) -> String {
    if s.chars().count() <= MAX_ATTR_CHARS {
        return s;
    }
    let mut cut: String = s.chars().take(MAX_ATTR_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// Node shape and fill: inputs, params and constants stand apart from computed nodes.
fn style(op: &Op) -> (&'static str, &'static str) {
    match op {
        Op::Input { .. } => ("invhouse", "#cfe2ff"),
        Op::Param { .. } => ("box3d", "#fff3bf"),
        Op::Const { .. } | Op::Literal { .. } | Op::Iota { .. } => ("ellipse", "#eeeeee"),
        Op::MatMul => ("box", "#ffd8a8"),
        Op::Attention { .. } | Op::Monarch => ("box", "#b2f2bb"),
        Op::Reduce { .. } | Op::Cumsum { .. } => ("box", "#e5dbff"),
        Op::Gather { .. } | Op::ScatterAdd { .. } => ("box", "#ffc9c9"),
        _ if op.is_movement() => ("box", "#f1f3f5"),
        _ => ("box", "#ffffff"),
    }
}

/// `%5 matmul` plus the op's leaf name or const value and key attributes, then the type on its own line.
fn label(id: usize, g: &Graph) -> String {
    let node = &g.nodes()[id];
    let mut head = format!("%{id} {}", node.op.name());
    match &node.op {
        Op::Input { name, .. } | Op::Param { name, .. } => write!(head, " \"{name}\"").unwrap(),
        Op::Const { value, .. } => write!(head, " {}", fmt_f64(*value)).unwrap(),
        _ => {}
    }
    for (key, value) in op_attrs(&node.op) {
        if key != "value" {
            write!(head, " {key}={}", clip(value.to_string())).unwrap();
        }
    }
    format!("{}\\n{}", esc(&head), esc(&node.ty.to_string()))
}

/// The graph in Graphviz DOT. Each IR node is a DOT node `nI`; edges run from operands to users, labelled
/// with the operand position when an op has several; each graph output is a separate green node.
pub fn to_dot(g: &Graph) -> String {
    let mut out = String::new();
    writeln!(out, "digraph \"{}\" {{", esc(&g.name)).unwrap();
    out.push_str("  rankdir=TB;\n");
    out.push_str(
        "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", fontname=\"monospace\", fontsize=10];\n",
    );
    out.push_str("  edge [fontname=\"monospace\", fontsize=8, color=\"#495057\"];\n");
    for (i, node) in g.nodes().iter().enumerate() {
        let (shape, fill) = style(&node.op);
        let style = if shape == "box" { "rounded,filled" } else { "filled" };
        writeln!(out, "  n{i} [label=\"{}\", shape={shape}, style=\"{style}\", fillcolor=\"{fill}\"];", label(i, g))
            .unwrap();
    }
    for (i, node) in g.nodes().iter().enumerate() {
        let numbered = node.inputs.len() > 1;
        for (k, input) in node.inputs.iter().enumerate() {
            if numbered {
                writeln!(out, "  n{} -> n{i} [label=\"{k}\"];", input.0).unwrap();
            } else {
                writeln!(out, "  n{} -> n{i};", input.0).unwrap();
            }
        }
    }
    for (k, o) in g.outputs().iter().enumerate() {
        let label = esc(&format!("output \"{}\"", o.name));
        writeln!(
            out,
            "  out{k} [label=\"{label}\", shape=doubleoctagon, style=\"filled\", fillcolor=\"#b2f2bb\"];\n  n{} -> out{k};",
            o.node.0
        )
        .unwrap();
    }
    out.push_str("}\n");
    out
}
