//! Group 2: matmul chain reassociation, chosen by cost at extraction. `(A B) C = A (B C)` covers the
//! linear-attention reassociation `(phi(Q) phi(K)^T) V -> phi(Q) (phi(K)^T V)`: with a causal mask
//! (a `select`) or a softmax between the two matmuls the chain is not a product and the pattern
//! cannot match. A constant scale between the matmuls is moved out of the product first.

use egg::{Id, Subst};
use irc_ir::BinaryOp;

use super::{Exactness::*, Rhs::*, RuleDef, RuleGroup::*, data, var};
use crate::opt::analysis::EG;
use crate::opt::lang::{Attr, Prim, TNode, dims_of};

/// `matmul(a, b) * s` for the constant `s` of class `?s`: a scale moved out of a product, so that
/// a scaled chain (`(Q K^T * s) V`) is a chain again.
fn scale_after_matmul(eg: &mut EG, s: &Subst) -> Option<Id> {
    let v = data(eg, s, "?s").splat?;
    let ab = eg.add(TNode::Op(Prim::MatMul, vec![s[var("?a")], s[var("?b")]]));
    let ty = eg[ab].data.ty.clone()?;
    let c = eg.add(TNode::constant(v, ty.dtype));
    let shape = eg.add(TNode::Attr(Attr::Shape(dims_of(&ty.shape))));
    let scale = eg.add(TNode::Op(Prim::Expand, vec![shape, c]));
    Some(eg.add(TNode::Op(Prim::binary(BinaryOp::Mul), vec![ab, scale])))
}

pub const MATMUL: &[RuleDef] = &[
    RuleDef {
        name: "matmul-assoc-right",
        group: MatmulAssoc,
        exactness: Real,
        identity: "(A B) C = A (B C)",
        lhs: "(matmul (matmul ?a ?b) ?c)",
        rhs: Pat("(matmul ?a (matmul ?b ?c))"),
    },
    RuleDef {
        name: "matmul-assoc-left",
        group: MatmulAssoc,
        exactness: Real,
        identity: "A (B C) = (A B) C",
        lhs: "(matmul ?a (matmul ?b ?c))",
        rhs: Pat("(matmul (matmul ?a ?b) ?c)"),
    },
    RuleDef {
        name: "matmul-scale-left",
        group: MatmulAssoc,
        exactness: Real,
        identity: "(A * s) B = (A B) * s for a constant s",
        lhs: "(matmul (mul ?a ?s) ?b)",
        rhs: Build(scale_after_matmul),
    },
    RuleDef {
        name: "matmul-scale-right",
        group: MatmulAssoc,
        exactness: Real,
        identity: "A (B * s) = (A B) * s for a constant s",
        lhs: "(matmul ?a (mul ?b ?s))",
        rhs: Build(scale_after_matmul),
    },
];
