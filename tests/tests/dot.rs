//! DOT rendering: one DOT node per IR node, operand edges, outputs, escaped labels.

use irc_ir::{DType, Graph, Op, TensorType, to_dot};
use irc_tests::fixtures::all_ops_graph;
use irc_tests::random_graph;
use proptest::prelude::*;

/// Checks the structure a DOT reader relies on: balanced braces and quotes, one statement per line.
fn assert_well_formed(dot: &str) {
    assert!(dot.starts_with("digraph \""), "{dot}");
    assert!(dot.ends_with("}\n"));
    let mut in_str = false;
    let mut escaped = false;
    let mut depth = 0i32;
    for c in dot.chars() {
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                (false, '\n') => panic!("newline inside a DOT string"),
                _ => {}
            }
        } else {
            match c {
                '"' => in_str = true,
                '{' | '[' => depth += 1,
                '}' | ']' => depth -= 1,
                _ => {}
            }
            assert!(depth >= 0);
        }
    }
    assert!(!in_str && depth == 0, "unbalanced DOT:\n{dot}");
    for line in dot.lines().skip(1) {
        assert!(line == "}" || line.ends_with(';'), "statement without `;`: {line}");
    }
}

#[test]
fn every_node_edge_and_output_appears() {
    let g = all_ops_graph();
    let dot = to_dot(&g);
    assert_well_formed(&dot);
    for (i, node) in g.nodes().iter().enumerate() {
        let decl = format!("  n{i} [label=\"%{i} {}", node.op.name());
        assert!(dot.contains(&decl), "missing {decl}");
        assert!(dot.contains(&format!("\\n{}\"", node.ty)), "missing type of %{i}");
        for (k, input) in node.inputs.iter().enumerate() {
            let edge = if node.inputs.len() > 1 {
                format!("  n{} -> n{i} [label=\"{k}\"];", input.0)
            } else {
                format!("  n{} -> n{i};", input.0)
            };
            assert!(dot.contains(&edge), "missing edge {edge}");
        }
    }
    for (k, o) in g.outputs().iter().enumerate() {
        assert!(dot.contains(&format!("  out{k} [label=\"output \\\"{}\\\"\"", o.name)));
        assert!(dot.contains(&format!("  n{} -> out{k};", o.node.0)));
    }
    // Leaves look different from computed nodes.
    assert!(dot.contains("n0 [label=\"%0 input \\\"x\\\"\\nf32[B, T, 4]\", shape=invhouse"));
    assert!(dot.contains("label=\"%1 param \\\"blocks.0.weight\\\" init=normal(0.02)\\nf32[4, 3]\", shape=box3d"));
    assert!(dot.contains("%9 matmul\\nf32[B, T, 3]"));
    assert!(dot.contains("reduce_sum axes=[1]\\nf32[B, 1, 3]"));
}

#[test]
fn labels_are_escaped_and_clipped() {
    let mut g = Graph::new("quote\" back\\slash");
    let x = g.push(Op::Input { name: "a\"b\\c\nd".into(), ty: TensorType::new(DType::F32, [40]) }, &[]).unwrap();
    let lit = g.push(Op::Literal { ty: TensorType::new(DType::F32, [40]), data: vec![1.25; 40] }, &[]).unwrap();
    g.add_output("o\"ut", x).unwrap();
    g.add_output("lit", lit).unwrap();
    let dot = to_dot(&g);
    assert_well_formed(&dot);
    assert!(dot.starts_with("digraph \"quote\\\" back\\\\slash\" {"), "{dot}");
    assert!(dot.contains("%0 input \\\"a\\\"b\\\\c\\nd\\\"\\nf32[40]"), "{dot}");
    assert!(dot.contains("data=[1.25, 1.25, 1.25, 1.25, 1.25, …"), "{dot}");
    assert!(dot.contains("output \\\"o\\\"ut\\\""));
}

proptest! {
    #[test]
    fn random_graphs_render(g in random_graph(20)) {
        let dot = to_dot(&g);
        assert_well_formed(&dot);
        prop_assert_eq!(dot.matches(" -> n").count(), g.nodes().iter().map(|n| n.inputs.len()).sum::<usize>());
        prop_assert_eq!(dot.matches(" -> out").count(), g.outputs().len());
    }
}
