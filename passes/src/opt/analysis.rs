//! The e-class analysis: every tensor class carries its type, checked with the IR's own `infer_type`,
//! plus two facts rules use: `splat` (every element equals one constant, which drives constant
//! folding) and `nonneg` (no element is negative, which guards `exp(log x) -> x`). Two classes of
//! different types must never merge: the merge records a conflict, and the driver turns any
//! conflict into an error.

use egg::{Analysis, DidMerge, EGraph, Id};
use irc_ir::{BinaryOp, DType, NodeId, Op, TensorType, UnaryOp, infer_type, round_to};

use super::lang::{Attr, Prim, TNode, dims_of, dtype_of};

pub type EG = EGraph<TNode, TensorAnalysis>;

/// A leaf of a region: the original graph node it stands for, and its type.
#[derive(Clone, Debug)]
pub struct Leaf {
    pub node: NodeId,
    pub ty: TensorType,
    pub splat: Option<f64>,
    pub nonneg: bool,
    /// The axis of an `iota` leaf (masks are recognized by it).
    pub iota: Option<usize>,
}

impl Leaf {
    /// A leaf for node `node` of op `op` and type `ty`; literals and iotas reveal facts.
    pub fn new(node: NodeId, op: &Op, ty: &TensorType) -> Leaf {
        let (splat, nonneg) = match op {
            Op::Literal { data, .. } => {
                let first = data.first().copied();
                let splat = first.filter(|f| data.iter().all(|v| v.to_bits() == f.to_bits()));
                (splat, !data.is_empty() && data.iter().all(|v| *v >= 0.0))
            }
            Op::Iota { .. } => (None, true),
            _ => (None, false),
        };
        let iota = match op {
            Op::Iota { axis, .. } => Some(*axis),
            _ => None,
        };
        Leaf { node, ty: ty.clone(), splat, nonneg, iota }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Data {
    /// The tensor type; `None` for attribute classes and for ill-typed e-nodes.
    pub ty: Option<TensorType>,
    pub attr: Option<Attr>,
    pub splat: Option<f64>,
    pub nonneg: bool,
}

#[derive(Debug, Default)]
pub struct TensorAnalysis {
    pub leaves: Vec<Leaf>,
    /// Unsound merges found (a rule equated values of different types or different constants).
    pub conflicts: Vec<String>,
    /// Classes constant folding added a constant to.
    pub folds: usize,
}

fn same_value(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// Cast of one value, as the interpreter does it (float to integer truncates and saturates).
fn cast_value(from: DType, to: DType, v: f64) -> f64 {
    match to {
        DType::I32 if from.is_float() => v as i32 as f64,
        DType::I64 if from.is_float() => v as i64 as f64,
        _ => round_to(to, v),
    }
}

fn fold_unary(op: UnaryOp, v: f64) -> f64 {
    match op {
        UnaryOp::Neg => -v,
        UnaryOp::Exp => v.exp(),
        UnaryOp::Log => v.ln(),
        UnaryOp::Sqrt => v.sqrt(),
        UnaryOp::Recip => v.recip(),
        UnaryOp::Sin => v.sin(),
        UnaryOp::Cos => v.cos(),
        UnaryOp::Tanh => v.tanh(),
        UnaryOp::Abs => v.abs(),
    }
}

fn fold_binary(op: BinaryOp, a: f64, b: f64) -> f64 {
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Max => irc_ir::fmax(a, b),
        BinaryOp::Min => irc_ir::fmin(a, b),
        BinaryOp::Pow => a.powf(b),
        BinaryOp::Lt => f64::from(u8::from(a < b)),
        BinaryOp::Le => f64::from(u8::from(a <= b)),
        BinaryOp::Eq => f64::from(u8::from(a == b)),
        BinaryOp::Ne => f64::from(u8::from(a != b)),
    }
}

/// The constant every element of `p(args)` equals, when the arguments' constants decide it. Integer
/// arithmetic is left alone (it wraps and divides differently); comparisons and casts fold for all.
fn fold(p: Prim, op: &Op, args: &[&Data], out: &TensorType) -> Option<f64> {
    let splat = |i: usize| args.get(i).and_then(|d| d.splat);
    let float = args.first().and_then(|d| d.ty.as_ref()).is_some_and(|t| t.dtype.is_float());
    let v = match (p, op) {
        (Prim::Unary(_), Op::Unary { op }) if float => fold_unary(*op, splat(0)?),
        (Prim::Binary(_), Op::Binary { op }) if float || op.is_comparison() => fold_binary(*op, splat(0)?, splat(1)?),
        (Prim::Cast, Op::Cast { dtype }) => {
            let from = args[0].ty.as_ref()?.dtype;
            return Some(cast_value(from, *dtype, splat(0)?));
        }
        (Prim::Select, _) => match splat(0) {
            Some(c) => splat(if c != 0.0 { 1 } else { 2 })?,
            None => splat(1).filter(|a| splat(2).is_some_and(|b| a.to_bits() == b.to_bits()))?,
        },
        (Prim::Reshape | Prim::Permute | Prim::Expand | Prim::Slice | Prim::Gather, _) => splat(0)?,
        // An empty reduction gives the identity (-inf), not the constant: reduced dims must be >= 1.
        (Prim::Reduce(_), Op::Reduce { op: irc_ir::ReduceOp::Max, axes }) => {
            let dims = &args[0].ty.as_ref()?.shape.0;
            let nonempty = axes.iter().all(|&a| dims.get(a).and_then(|d| d.as_static()).is_some_and(|n| n >= 1));
            if !nonempty {
                return None;
            }
            splat(0)?
        }
        (Prim::Concat, _) => {
            let first = splat(0)?;
            args.iter().all(|d| d.splat.is_some_and(|v| v.to_bits() == first.to_bits())).then_some(first)?
        }
        _ => return None,
    };
    Some(round_to(out.dtype, v))
}

/// Whether no element of `p(args)` is negative (NaN aside).
fn nonneg(op: &Op, args: &[&Data], same_operands: bool) -> bool {
    let all = |r: std::ops::Range<usize>| args.get(r).is_some_and(|a| a.iter().all(|d| d.nonneg));
    let n = args.len();
    match op {
        Op::Unary { op: UnaryOp::Exp | UnaryOp::Sqrt | UnaryOp::Abs } => true,
        Op::Unary { op: UnaryOp::Recip } => all(0..1),
        Op::Unary { .. } => false,
        Op::Binary { op: BinaryOp::Mul } => same_operands || all(0..2),
        Op::Binary { op: BinaryOp::Add | BinaryOp::Div | BinaryOp::Min } => all(0..2),
        Op::Binary { op: BinaryOp::Max } => args.iter().any(|d| d.nonneg),
        Op::Binary { op: BinaryOp::Pow } => all(0..1),
        Op::Binary { .. } => false,
        Op::Select => all(1..3),
        Op::Cast { dtype } => dtype.is_float() && all(0..1),
        Op::MatMul | Op::Concat { .. } | Op::Monarch => all(0..n),
        // A convex combination of the rows of `v`.
        Op::Attention { .. } => all(2..3),
        Op::ScatterAdd { .. } | Op::Gather { .. } => all(0..1),
        _ => all(0..1),
    }
}

impl TensorAnalysis {
    fn op_data(egraph: &EG, p: Prim, children: &[Id]) -> Data {
        let attr = if p.has_attr() { children.first().and_then(|c| egraph[*c].data.attr.clone()) } else { None };
        let tensors = if p.has_attr() { children.get(1..).unwrap_or(&[]) } else { children };
        let args: Vec<&Data> = tensors.iter().map(|c| &egraph[*c].data).collect();
        let Some(op) = p.to_op(attr.as_ref()).filter(|_| !p.has_attr() || attr.is_some()) else {
            return Data::default();
        };
        let Some(ins) = args.iter().map(|d| d.ty.as_ref()).collect::<Option<Vec<_>>>() else {
            return Data::default();
        };
        let Ok(ty) = infer_type(&op, &ins) else { return Data::default() };
        let same = tensors.len() == 2 && egraph.find(tensors[0]) == egraph.find(tensors[1]);
        let splat = fold(p, &op, &args, &ty);
        let nonneg = splat.map_or_else(|| nonneg(&op, &args, same), |v| v >= 0.0);
        Data { ty: Some(ty), attr: None, splat, nonneg }
    }
}

impl Analysis<TNode> for TensorAnalysis {
    type Data = Data;

    fn make(egraph: &mut EG, enode: &TNode, _id: Id) -> Data {
        match enode {
            TNode::Attr(a) => Data { attr: Some(a.clone()), ..Data::default() },
            TNode::Leaf(i) => match egraph.analysis.leaves.get(*i as usize) {
                Some(l) => Data { ty: Some(l.ty.clone()), attr: None, splat: l.splat, nonneg: l.nonneg },
                None => Data::default(),
            },
            TNode::Const(bits, d) => {
                let v = f64::from_bits(*bits);
                Data {
                    ty: Some(TensorType::new(dtype_of(*d), irc_ir::Shape::scalar())),
                    attr: None,
                    splat: Some(v),
                    nonneg: v >= 0.0,
                }
            }
            TNode::Op(p, children) => Self::op_data(egraph, *p, children),
        }
    }

    fn merge(&mut self, a: &mut Data, b: Data) -> DidMerge {
        if a.ty != b.ty || a.attr != b.attr {
            let show = |d: &Data| d.ty.as_ref().map_or_else(|| format!("{:?}", d.attr), |t| t.to_string());
            self.conflicts.push(format!("merged values of types {} and {}", show(a), show(&b)));
        }
        let mut changed_a = false;
        match (a.splat, b.splat) {
            (None, Some(v)) => {
                a.splat = Some(v);
                changed_a = true;
            }
            (Some(x), Some(y)) if !same_value(x, y) => {
                self.conflicts.push(format!("merged the constants {x} and {y}"));
            }
            _ => {}
        }
        if b.nonneg && !a.nonneg {
            a.nonneg = true;
            changed_a = true;
        }
        let changed_b = (b.splat.is_none() && a.splat.is_some()) || (a.nonneg && !b.nonneg);
        DidMerge(changed_a, changed_b)
    }

    /// Constant folding: a class whose elements all equal `v` gains `expand(const v)`.
    fn modify(egraph: &mut EG, id: Id) {
        let data = &egraph[id].data;
        let (Some(v), Some(ty)) = (data.splat, data.ty.clone()) else { return };
        if v.fract() != 0.0 && !ty.dtype.is_float() {
            return;
        }
        let c = egraph.add(TNode::constant(v, ty.dtype));
        let folded = if ty.rank() == 0 {
            c
        } else {
            let shape = egraph.add(TNode::Attr(Attr::Shape(dims_of(&ty.shape))));
            egraph.add(TNode::Op(Prim::Expand, vec![shape, c]))
        };
        if egraph.union(id, folded) {
            egraph.analysis.folds += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use irc_ir::Shape;

    fn leaf(eg: &mut EG, shape: &[usize]) -> Id {
        let ty = TensorType::new(DType::F32, Shape::of(shape));
        let op = Op::Input { name: "x".into(), ty: ty.clone() };
        eg.analysis.leaves.push(Leaf::new(NodeId(0), &op, &ty));
        eg.add(TNode::Leaf((eg.analysis.leaves.len() - 1) as u32))
    }

    #[test]
    fn merging_different_types_is_a_conflict() {
        let mut eg = EG::new(TensorAnalysis::default());
        let (a, b) = (leaf(&mut eg, &[2, 3]), leaf(&mut eg, &[3, 2]));
        eg.union(a, b);
        eg.rebuild();
        assert_eq!(eg.analysis.conflicts.len(), 1, "{:?}", eg.analysis.conflicts);
        assert!(eg.analysis.conflicts[0].contains("f32[2, 3]"));
    }

    #[test]
    fn ill_typed_nodes_have_no_type_and_constants_fold() {
        let mut eg = EG::new(TensorAnalysis::default());
        let (a, b) = (leaf(&mut eg, &[2, 3]), leaf(&mut eg, &[3, 2]));
        let bad = eg.add(TNode::Op(Prim::binary(BinaryOp::Add), vec![a, b]));
        assert!(eg[bad].data.ty.is_none());
        let two = eg.add(TNode::constant(2.0, DType::F32));
        let e = eg.add(TNode::Op(Prim::unary(UnaryOp::Exp), vec![two]));
        eg.rebuild();
        assert_eq!(eg[e].data.splat, Some(round_to(DType::F32, 2f64.exp())));
        assert_eq!(eg.analysis.folds, 1);
        assert!(eg[e].nodes.iter().any(|n| matches!(n, TNode::Const(..))));
    }

    /// An `attention` is a convex combination of the rows of `v`: non-negative exactly when `v` is;
    /// a `monarch` needs all three operands non-negative.
    #[test]
    fn fused_ops_are_nonneg_only_when_their_operands_say_so() {
        let mut eg = EG::new(TensorAnalysis::default());
        let mut leaf = |shape: &[usize], nonneg: bool| {
            let ty = TensorType::new(DType::F32, Shape::of(shape));
            eg.analysis.leaves.push(Leaf { node: NodeId(0), ty, splat: None, nonneg, iota: None });
            eg.add(TNode::Leaf((eg.analysis.leaves.len() - 1) as u32))
        };
        let (q, kt, v, vn) = (leaf(&[3, 4], false), leaf(&[4, 5], false), leaf(&[5, 2], true), leaf(&[5, 2], false));
        let (x, r, l, ln) =
            (leaf(&[2, 6], true), leaf(&[3, 2, 2], true), leaf(&[2, 3, 4], true), leaf(&[2, 3, 4], false));
        let attr = eg.add(TNode::Attr(Attr::Attention { scale: 1f64.to_bits(), causal: true, fill: 0f64.to_bits() }));
        let a = eg.add(TNode::Op(Prim::Attention, vec![attr, q, kt, v]));
        let an = eg.add(TNode::Op(Prim::Attention, vec![attr, q, kt, vn]));
        let m = eg.add(TNode::Op(Prim::Monarch, vec![x, r, l]));
        let mn = eg.add(TNode::Op(Prim::Monarch, vec![x, r, ln]));
        eg.rebuild();
        assert!(eg[a].data.ty.is_some() && eg[m].data.ty.is_some());
        assert_eq!(
            [eg[a].data.nonneg, eg[an].data.nonneg, eg[m].data.nonneg, eg[mn].data.nonneg],
            [true, false, true, false]
        );
    }
}
