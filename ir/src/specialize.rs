//! Specialization: symbols with known sizes become static dims, so a graph run at one size can be
//! optimized and compiled for that size (rewrites that need a static dim, such as chunking causal
//! linear attention, then apply).

use std::collections::HashMap;

use crate::{Dim, Graph, IrError, Op, Shape, TensorType};

fn bind_dim(d: &Dim, sizes: &HashMap<String, usize>) -> Dim {
    match d {
        Dim::Sym { name, .. } if sizes.contains_key(name) => d.bind(sizes).map_or_else(|| d.clone(), Dim::Static),
        _ => d.clone(),
    }
}

fn bind_shape(s: &Shape, sizes: &HashMap<String, usize>) -> Shape {
    Shape(s.0.iter().map(|d| bind_dim(d, sizes)).collect())
}

fn bind_type(t: &TensorType, sizes: &HashMap<String, usize>) -> TensorType {
    TensorType::new(t.dtype, bind_shape(&t.shape, sizes))
}

fn bind_op(op: &Op, sizes: &HashMap<String, usize>) -> Op {
    let mut op = op.clone();
    match &mut op {
        Op::Input { ty, .. } | Op::Param { ty, .. } | Op::Literal { ty, .. } | Op::Iota { ty, .. } => {
            *ty = bind_type(ty, sizes)
        }
        Op::Reshape { shape } | Op::Expand { shape } => *shape = bind_shape(shape, sizes),
        Op::Slice { end, .. } => *end = bind_dim(end, sizes),
        Op::ScatterAdd { size, .. } => *size = bind_dim(size, sizes),
        _ => {}
    }
    op
}

/// `g` with every symbol in `sizes` replaced by its size (a symbol whose dim would be negative is
/// left symbolic); same nodes, same names and outputs. Fails only if the bound graph does not type:
/// sizes that contradict the graph (two symbols bound to sizes an op requires equal, say).
pub fn specialize(g: &Graph, sizes: &HashMap<String, usize>) -> Result<Graph, IrError> {
    let mut out = Graph::new(g.name.clone());
    for n in g.nodes() {
        out.push(bind_op(&n.op, sizes), &n.inputs)?;
    }
    for o in g.outputs() {
        out.add_output(o.name.clone(), o.node)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DType;

    #[test]
    fn bound_symbols_become_static_and_others_stay() {
        let mut g = Graph::new("g");
        let t = TensorType::new(DType::F32, Shape(vec![Dim::from("B"), Dim::from("T"), Dim::Static(4)]));
        let x = g.push(Op::Input { name: "x".into(), ty: t }, &[]).unwrap();
        let s = g.push(Op::Slice { axis: 1, start: 1, end: Dim::from("T") }, &[x]).unwrap();
        g.add_output("y", s).unwrap();
        let sizes = HashMap::from([("T".to_string(), 8)]);
        let h = specialize(&g, &sizes).unwrap();
        assert_eq!(h.ty(s).shape, Shape(vec![Dim::from("B"), Dim::Static(7), Dim::Static(4)]));
        assert_eq!(h.outputs()[0].name, "y");
    }
}
