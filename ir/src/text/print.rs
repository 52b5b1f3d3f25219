//! Graph -> `.irc` text. Output is canonical: nodes are named `%0, %1, ...` by position and every attribute
//! is written, so printing a parsed graph reproduces the text byte for byte.

use std::fmt::{self, Write};

use super::attr::op_attrs;
use super::fmt_f64;
use super::lex::quote;
use crate::{Graph, Op, is_symbol_name};

/// The graph in `.irc` text form, ending with a newline.
pub fn print(g: &Graph) -> String {
    let mut out = String::new();
    let name = if is_symbol_name(&g.name) { g.name.clone() } else { quote(&g.name) };
    writeln!(out, "graph {name} {{").unwrap();
    for (i, node) in g.nodes().iter().enumerate() {
        write!(out, "  %{i} = {}", node.op.name()).unwrap();
        let mut sep = " ";
        match &node.op {
            Op::Input { name, .. } | Op::Param { name, .. } => write!(out, " {}", quote(name)).unwrap(),
            Op::Const { value, .. } => write!(out, " {}", fmt_f64(*value)).unwrap(),
            _ => {
                for input in &node.inputs {
                    write!(out, "{sep}{input}").unwrap();
                    sep = ", ";
                }
            }
        }
        for (key, value) in op_attrs(&node.op) {
            if key != "value" {
                write!(out, " {key}={value}").unwrap();
            }
        }
        writeln!(out, " : {}", node.ty).unwrap();
    }
    for o in g.outputs() {
        writeln!(out, "  output {} = {}", quote(&o.name), o.node).unwrap();
    }
    out.push_str("}\n");
    out
}

impl fmt::Display for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&print(self))
    }
}
