//! Dead-code elimination: drop nodes no output depends on, renumbering the rest in order.

use irc_ir::{Graph, NodeId};

/// A copy of `g` without the nodes that no output reaches. Inputs and params are kept even when
/// unused, so a graph's calling convention never changes under optimization.
pub fn eliminate_dead_code(g: &Graph) -> Graph {
    let mut live = vec![false; g.len()];
    for o in g.outputs() {
        live[o.node.0] = true;
    }
    for id in (0..g.len()).rev() {
        let node = &g.nodes()[id];
        if matches!(node.op, irc_ir::Op::Input { .. } | irc_ir::Op::Param { .. }) {
            live[id] = true;
        }
        if live[id] {
            for i in &node.inputs {
                live[i.0] = true;
            }
        }
    }
    let mut out = Graph::new(g.name.clone());
    let mut remap = vec![None; g.len()];
    for (id, node) in g.nodes().iter().enumerate().filter(|(id, _)| live[*id]) {
        let inputs: Vec<NodeId> = node.inputs.iter().map(|i| remap[i.0].expect("inputs precede uses")).collect();
        remap[id] = Some(out.push(node.op.clone(), &inputs).expect("a verified graph stays valid"));
    }
    for o in g.outputs() {
        out.add_output(o.name.clone(), remap[o.node.0].expect("outputs are live")).expect("names stay distinct");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use irc_ir::{DType, Op, TensorType, UnaryOp};

    #[test]
    fn drops_unused_and_keeps_interface() {
        let mut g = Graph::new("t");
        let x = g.push(Op::Input { name: "x".into(), ty: TensorType::new(DType::F32, [4]) }, &[]).unwrap();
        let p = g
            .push(Op::Param { name: "p".into(), ty: TensorType::new(DType::F32, [4]), init: Default::default() }, &[])
            .unwrap();
        let dead = g.push(Op::Unary { op: UnaryOp::Exp }, &[x]).unwrap();
        let _dead2 = g.push(Op::Unary { op: UnaryOp::Log }, &[dead]).unwrap();
        let y = g.push(Op::Unary { op: UnaryOp::Tanh }, &[x]).unwrap();
        g.add_output("y", y).unwrap();
        let d = eliminate_dead_code(&g);
        d.verify().unwrap();
        assert_eq!(d.len(), 3);
        assert_eq!(d.params().count(), 1);
        let _ = p;
        assert_eq!(d.node(d.outputs()[0].node).op, Op::Unary { op: UnaryOp::Tanh });
    }
}
