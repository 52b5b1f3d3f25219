//! Group 3: fusion discovery. The naive softmax-attention pattern becomes one `attention` op and the
//! Monarch pattern one `monarch` op; the fused ops are defined by their expansions (`irc_ir::fused`),
//! and each rule matches exactly that expansion, so the rewrite is an identity of real arithmetic
//! (the fused kernels sum in another order and use an online softmax). Extraction keeps the fused op
//! only where the cost model says it is cheaper (it never materializes the scores, or the Monarch
//! intermediate); where the scores are needed anyway (a backward pass) the original stays.

use egg::{Id, Subst};
use irc_ir::BinaryOp;

use super::{Exactness::*, Rhs::*, RuleDef, RuleGroup::*, attr, ty, var};
use crate::opt::analysis::EG;
use crate::opt::lang::{Attr, D, Prim, TNode, dims_of};

/// `softmax(?s) ?v` over the last axis, as the DSL writes it: `e = exp(s - max(s))`, `e / sum(e)`.
const SOFTMAX_MATMUL: &str = "(matmul (div (exp (sub ?s (expand ?sh1 (reduce_max ?ax1 ?s)))) \
     (expand ?sh2 (reduce_sum ?ax2 (exp (sub ?s (expand ?sh1 (reduce_max ?ax1 ?s))))))) ?v)";

/// The e-nodes of class `c` that are `p` applied to tensor operands.
fn ops_of(eg: &EG, c: Id, p: Prim) -> Vec<Vec<Id>> {
    eg[c].nodes.iter().filter_map(|n| n.op_parts().filter(|(q, _)| *q == p).map(|(_, a)| a.to_vec())).collect()
}

/// `scale * (q kt)` in class `c` (either operand order; no scale is 1): `(q, kt, scale)`.
pub(super) fn scaled_scores(eg: &EG, c: Id) -> Option<(Id, Id, f64)> {
    if let Some(a) = ops_of(eg, c, Prim::MatMul).first() {
        return Some((a[0], a[1], 1.0));
    }
    for a in ops_of(eg, c, Prim::binary(BinaryOp::Mul)) {
        for (m, s) in [(a[0], a[1]), (a[1], a[0])] {
            if let (Some(mm), Some(v)) = (ops_of(eg, m, Prim::MatMul).first(), eg[s].data.splat) {
                return Some((mm[0], mm[1], v));
            }
        }
    }
    None
}

/// The axis of the `iota` leaf in class `c`, with the leaf's shape.
fn iota(eg: &EG, c: Id) -> Option<(usize, Vec<D>)> {
    eg[c].nodes.iter().find_map(|n| match n {
        TNode::Leaf(i) => {
            let l = eg.analysis.leaves.get(*i as usize)?;
            Some((l.iota?, dims_of(&l.ty.shape)))
        }
        _ => None,
    })
}

/// Whether class `c` is the causal mask `j <= i` of scores of shape `dims` (`[.., T, S]`): `le(cols,
/// rows)` of two `iota`s over the last two axes, possibly of a smaller rank and expanded.
pub(super) fn is_causal(eg: &EG, c: Id, dims: &[D]) -> bool {
    let direct = |c: Id| {
        ops_of(eg, c, Prim::binary(BinaryOp::Le)).iter().any(|a| match (iota(eg, a[0]), iota(eg, a[1])) {
            (Some((ac, sc)), Some((ar, sr))) => {
                let r = sc.len();
                let fits = r >= 2
                    && r <= dims.len()
                    && sc == sr
                    && sc[r - 2..] == dims[dims.len() - 2..]
                    && sc[..r - 2].iter().all(|d| *d == D::S(1));
                fits && ac == r - 1 && ar == r - 2
            }
            _ => false,
        })
    };
    direct(c) || eg[c].nodes.iter().any(|n| matches!(n, TNode::Op(Prim::Expand, ch) if direct(ch[1])))
}

/// Whether both reductions of the softmax run over the last axis of the scores.
fn last_axis(eg: &EG, s: &Subst) -> Option<Vec<D>> {
    let dims = dims_of(&ty(eg, s, "?s")?.shape);
    let last = vec![dims.len().checked_sub(1)?];
    let ok = ["?ax1", "?ax2"].iter().all(|a| attr(eg, s, a) == Some(&Attr::Axes(last.clone())));
    ok.then_some(dims)
}

fn attention_node(eg: &mut EG, s: &Subst, q: Id, kt: Id, scale: f64, causal: bool, fill: f64) -> Id {
    let a = eg.add(TNode::Attr(Attr::Attention { scale: scale.to_bits(), causal, fill: fill.to_bits() }));
    eg.add(TNode::Op(Prim::Attention, vec![a, q, kt, s[var("?v")]]))
}

/// `softmax(scale * q kt) v` -> `attention(q, kt, v)`.
fn fuse_attention(eg: &mut EG, s: &Subst) -> Option<Id> {
    last_axis(eg, s)?;
    let (q, kt, scale) = scaled_scores(eg, s[var("?s")])?;
    Some(attention_node(eg, s, q, kt, scale, false, 0.0))
}

/// `softmax(select(j <= i, scale * q kt, fill)) v` -> `attention(q, kt, v)` with `causal`.
fn fuse_causal_attention(eg: &mut EG, s: &Subst) -> Option<Id> {
    let dims = last_axis(eg, s)?;
    let found = ops_of(eg, s[var("?s")], Prim::Select).into_iter().find_map(|a| {
        let fill = eg[a[2]].data.splat?;
        let (q, kt, scale) = scaled_scores(eg, a[1])?;
        is_causal(eg, a[0], &dims).then_some((q, kt, scale, fill))
    });
    let (q, kt, scale, fill) = found?;
    Some(attention_node(eg, s, q, kt, scale, true, fill))
}

/// The Monarch pattern of `monarch_linear` (`frontends/src/nn/monarch.rs`), reshapes, permutes and
/// all; `fuse_monarch` checks every shape and permutation against `irc_ir::fused::expand_monarch`.
const MONARCH: &str = "(reshape ?s5 (permute ?p2 (reshape ?s4 (matmul (reshape ?s3 (permute ?p1 \
     (reshape ?s2 (matmul (reshape ?s1 ?x) ?r)))) ?l))))";

fn fuse_monarch(eg: &mut EG, s: &Subst) -> Option<Id> {
    let (xt, rt, lt) = (ty(eg, s, "?x")?, ty(eg, s, "?r")?, ty(eg, s, "?l")?);
    let (m1, a, m2, c) = irc_ir::fused::monarch_dims(&rt.shape, &lt.shape)?;
    let xd = dims_of(&xt.shape);
    if xd.last() != Some(&D::S(m1 * a)) {
        return None;
    }
    let lead = &xd[..xd.len() - 1];
    let dims = |tail: &[usize]| Attr::Shape(lead.iter().cloned().chain(tail.iter().map(|&n| D::S(n))).collect());
    let rank = lead.len() + 2;
    let swap = Attr::Perm((0..rank - 2).chain([rank - 1, rank - 2]).collect());
    let want = [
        ("?s1", dims(&[m1, 1, a])),
        ("?s2", dims(&[m1, m2])),
        ("?p1", swap.clone()),
        ("?s3", dims(&[m2, 1, m1])),
        ("?s4", dims(&[m2, c])),
        ("?p2", swap),
        ("?s5", dims(&[c * m2])),
    ];
    if !want.iter().all(|(v, w)| attr(eg, s, v) == Some(w)) {
        return None;
    }
    Some(eg.add(TNode::Op(Prim::Monarch, vec![s[var("?x")], s[var("?r")], s[var("?l")]])))
}

pub const FUSION: &[RuleDef] = &[
    RuleDef {
        name: "fuse-attention",
        group: Fusion,
        exactness: Real,
        identity: "softmax(s * (Q Kt)) V = attention(Q, Kt, V) (online softmax: real arithmetic)",
        lhs: SOFTMAX_MATMUL,
        rhs: Build(fuse_attention),
    },
    RuleDef {
        name: "fuse-causal-attention",
        group: Fusion,
        exactness: Real,
        identity: "softmax(select(j <= i, s * (Q Kt), fill)) V = attention(Q, Kt, V, causal, fill)",
        lhs: SOFTMAX_MATMUL,
        rhs: Build(fuse_causal_attention),
    },
    RuleDef {
        name: "fuse-monarch",
        group: Fusion,
        exactness: Real,
        identity: "reshape(swap(reshape(swap(X R) L))) = monarch(X, R, L) (block-diagonal R, L)",
        lhs: MONARCH,
        rhs: Build(fuse_monarch),
    },
];
