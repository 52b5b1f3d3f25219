//! Vector-Jacobian products: for each primitive, the adjoint of every input given the output's adjoint.
//! Conventions where the derivative is not unique are documented in `docs/AUTODIFF.md`.

use irc_ir::{BinaryOp, Dim, Node, NodeId, Op, ReduceOp, UnaryOp};

use super::AutodiffError;
use crate::emit::{Emitter, R};

/// Adjoint contributions to each input of node `y` given its adjoint `gy`; `None` where an input takes
/// no gradient (comparison operands, conditions, indices) or none is `needed`.
pub fn vjp(
    e: &mut Emitter,
    node: &Node,
    y: NodeId,
    gy: NodeId,
    needed: &[bool],
) -> Result<Vec<Option<NodeId>>, AutodiffError> {
    let unsupported = |why: String| AutodiffError::NoGradient { node: y.0, op: node.op.name(), why };
    let ins = &node.inputs;
    let want = |i: usize| needed[i];
    let mut out = vec![None; ins.len()];
    match &node.op {
        Op::Input { .. } | Op::Param { .. } | Op::Const { .. } | Op::Literal { .. } | Op::Iota { .. } => {}
        Op::Unary { op } => out[0] = Some(unary(e, *op, ins[0], y, gy)?),
        Op::Cast { .. } => {
            let dtype = e.ty(ins[0]).dtype;
            out[0] = Some(e.cast(gy, dtype)?);
        }
        Op::Binary { op } if op.is_comparison() => {}
        Op::Binary { op } => {
            let (a, b) = (ins[0], ins[1]);
            if want(0) {
                out[0] = Some(binary_lhs(e, *op, a, b, gy)?);
            }
            if want(1) {
                out[1] = Some(binary_rhs(e, *op, a, b, y, gy)?);
            }
        }
        Op::Select => {
            let c = ins[0];
            if want(1) {
                out[1] = Some(e.mask(c, gy)?);
            }
            if want(2) {
                let zero = e.fill_like(0.0, gy)?;
                out[2] = Some(e.op(Op::Select, &[c, zero, gy])?);
            }
        }
        Op::Reduce { op: ReduceOp::Sum, .. } => {
            let shape = e.shape(ins[0]);
            out[0] = Some(e.expand(gy, &shape)?);
        }
        Op::Reduce { op: ReduceOp::Max, axes } => {
            // Ties share the gradient equally, so the sum over the reduced axes is preserved.
            let x = ins[0];
            let shape = e.shape(x);
            let yb = e.expand(y, &shape)?;
            let hit = e.binary(BinaryOp::Eq, x, yb)?;
            let ones = e.fill_like(1.0, x)?;
            let ind = e.mask(hit, ones)?;
            let count = e.op(Op::Reduce { op: ReduceOp::Sum, axes: axes.clone() }, &[ind])?;
            let share = e.div(gy, count)?;
            let share = e.expand(share, &shape)?;
            out[0] = Some(e.mask(hit, share)?);
        }
        Op::Cumsum { axis, reverse } => {
            out[0] = Some(e.op(Op::Cumsum { axis: *axis, reverse: !reverse }, &[gy])?);
        }
        Op::Reshape { .. } => {
            let shape = e.shape(ins[0]);
            out[0] = Some(e.reshape(gy, &shape)?);
        }
        Op::Permute { perm } => {
            let mut inverse = vec![0; perm.len()];
            for (i, &p) in perm.iter().enumerate() {
                inverse[p] = i;
            }
            out[0] = Some(e.op(Op::Permute { perm: inverse }, &[gy])?);
        }
        Op::Expand { .. } => {
            let shape = e.shape(ins[0]);
            out[0] = Some(e.sum_to(gy, &shape)?);
        }
        Op::Slice { axis, start, end } => {
            let dim = e.dim(ins[0], *axis);
            // The adjoint pads `dim - end` zeros after: that count must not depend on a binding.
            let after = dim
                .minus(end)
                .and_then(|d| d.as_static())
                .ok_or_else(|| unsupported(format!("slice end {end} is not a fixed distance from dimension {dim}")))?;
            out[0] = Some(e.op(Op::Pad { axis: *axis, before: *start, after }, &[gy])?);
        }
        Op::Pad { axis, before, .. } => {
            let dim = e.dim(ins[0], *axis);
            let end = dim.offset_by(*before as i64).expect("a padded dim fits");
            out[0] = Some(e.op(Op::Slice { axis: *axis, start: *before, end }, &[gy])?);
        }
        Op::Concat { axis } => {
            let mut start = Dim::Static(0);
            for (i, &x) in ins.iter().enumerate() {
                let len = e.dim(x, *axis);
                let end = start.plus(&len).expect("concat typed its total");
                if want(i) {
                    let s =
                        start.as_static().ok_or_else(|| unsupported("a part follows a symbolic-length part".into()))?;
                    out[i] = Some(e.op(Op::Slice { axis: *axis, start: s, end: end.clone() }, &[gy])?);
                }
                start = end;
            }
        }
        Op::MatMul => {
            let (a, b) = (ins[0], ins[1]);
            if want(0) {
                let bt = e.transpose(b)?;
                let ga = e.op(Op::MatMul, &[gy, bt])?;
                let shape = e.shape(a);
                out[0] = Some(e.sum_to(ga, &shape)?);
            }
            if want(1) {
                let at = e.transpose(a)?;
                let gb = e.op(Op::MatMul, &[at, gy])?;
                let shape = e.shape(b);
                out[1] = Some(e.sum_to(gb, &shape)?);
            }
        }
        Op::Gather { axis } => {
            let size = e.dim(ins[0], *axis);
            out[0] = Some(e.op(Op::ScatterAdd { axis: *axis, size }, &[gy, ins[1]])?);
        }
        Op::ScatterAdd { axis, .. } => {
            out[0] = Some(e.op(Op::Gather { axis: *axis }, &[gy, ins[1]])?);
        }
        Op::Attention { .. } | Op::Monarch => {
            return Err(unsupported("fused ops are differentiated through their expansion".into()));
        }
    }
    Ok(out)
}

fn unary(e: &mut Emitter, op: UnaryOp, x: NodeId, y: NodeId, gy: NodeId) -> R<NodeId> {
    match op {
        UnaryOp::Neg => e.neg(gy),
        UnaryOp::Exp => e.mul(gy, y),
        UnaryOp::Log => e.div(gy, x),
        UnaryOp::Sqrt => {
            let h = e.div(gy, y)?;
            e.scale(h, 0.5)
        }
        UnaryOp::Recip => {
            let yy = e.mul(y, y)?;
            let t = e.mul(gy, yy)?;
            e.neg(t)
        }
        UnaryOp::Sin => {
            let c = e.unary(UnaryOp::Cos, x)?;
            e.mul(gy, c)
        }
        UnaryOp::Cos => {
            let s = e.unary(UnaryOp::Sin, x)?;
            let t = e.mul(gy, s)?;
            e.neg(t)
        }
        UnaryOp::Tanh => {
            let yy = e.mul(y, y)?;
            let one = e.fill_like(1.0, y)?;
            let d = e.binary(BinaryOp::Sub, one, yy)?;
            e.mul(gy, d)
        }
        UnaryOp::Abs => {
            // d|x|/dx is sign(x), taken as 0 at 0.
            let zero = e.fill_like(0.0, x)?;
            let pos = e.binary(BinaryOp::Lt, zero, x)?;
            let negs = e.binary(BinaryOp::Lt, x, zero)?;
            let ng = e.neg(gy)?;
            let inner = e.mask(negs, ng)?;
            e.op(Op::Select, &[pos, gy, inner])
        }
    }
}

/// Where `a` wins a max (or min) the gradient goes to `a`; on a tie each side gets half.
fn winner_share(e: &mut Emitter, wins: NodeId, a: NodeId, b: NodeId, gy: NodeId) -> R<NodeId> {
    let tie = e.binary(BinaryOp::Eq, a, b)?;
    let half = e.scale(gy, 0.5)?;
    let tied = e.mask(tie, half)?;
    e.op(Op::Select, &[wins, gy, tied])
}

fn binary_lhs(e: &mut Emitter, op: BinaryOp, a: NodeId, b: NodeId, gy: NodeId) -> R<NodeId> {
    match op {
        BinaryOp::Add | BinaryOp::Sub => Ok(gy),
        BinaryOp::Mul => e.mul(gy, b),
        BinaryOp::Div => e.div(gy, b),
        BinaryOp::Max | BinaryOp::Min => {
            let wins = if op == BinaryOp::Max { e.binary(BinaryOp::Lt, b, a)? } else { e.binary(BinaryOp::Lt, a, b)? };
            winner_share(e, wins, a, b, gy)
        }
        BinaryOp::Pow => {
            // d(a^b)/da = b * a^(b-1)
            let one = e.fill_like(1.0, b)?;
            let bm1 = e.binary(BinaryOp::Sub, b, one)?;
            let p = e.binary(BinaryOp::Pow, a, bm1)?;
            let d = e.mul(b, p)?;
            e.mul(gy, d)
        }
        BinaryOp::Lt | BinaryOp::Le | BinaryOp::Eq | BinaryOp::Ne => unreachable!("comparisons take no gradient"),
    }
}

fn binary_rhs(e: &mut Emitter, op: BinaryOp, a: NodeId, b: NodeId, y: NodeId, gy: NodeId) -> R<NodeId> {
    match op {
        BinaryOp::Add => Ok(gy),
        BinaryOp::Sub => e.neg(gy),
        BinaryOp::Mul => e.mul(gy, a),
        BinaryOp::Div => {
            // d(a/b)/db = -a/b^2 = -y/b
            let t = e.div(y, b)?;
            let t = e.mul(gy, t)?;
            e.neg(t)
        }
        BinaryOp::Max | BinaryOp::Min => {
            let wins = if op == BinaryOp::Max { e.binary(BinaryOp::Lt, a, b)? } else { e.binary(BinaryOp::Lt, b, a)? };
            winner_share(e, wins, b, a, gy)
        }
        BinaryOp::Pow => {
            // d(a^b)/db = a^b * ln(a)
            let l = e.unary(UnaryOp::Log, a)?;
            let d = e.mul(y, l)?;
            e.mul(gy, d)
        }
        BinaryOp::Lt | BinaryOp::Le | BinaryOp::Eq | BinaryOp::Ne => unreachable!("comparisons take no gradient"),
    }
}
