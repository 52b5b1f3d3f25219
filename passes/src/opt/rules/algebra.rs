//! Group 1: algebraic simplification and canonicalization. `SIMPLIFY` holds the exact rules (on by
//! default); `FLOAT_ALGEBRA` the real-arithmetic identities that change rounding (off by default).
//! Constant folding is not a rule: the analysis folds any class whose value is one constant
//! (see `analysis.rs`).

use egg::{Id, Subst};

use super::{Exactness::*, Rhs::*, RuleDef, RuleGroup::*, attr, data, splat_is, ty, var};
use crate::opt::analysis::EG;
use crate::opt::lang::{Attr, D, Prim, TNode, dims_of};

fn one(eg: &EG, s: &Subst) -> bool {
    splat_is(eg, s, "?c", 1.0)
}

fn zero(eg: &EG, s: &Subst) -> bool {
    splat_is(eg, s, "?c", 0.0)
}

fn always_true(eg: &EG, s: &Subst) -> bool {
    splat_is(eg, s, "?c", 1.0)
}

fn always_false(eg: &EG, s: &Subst) -> bool {
    splat_is(eg, s, "?c", 0.0)
}

fn identity_perm(eg: &EG, s: &Subst) -> bool {
    matches!(attr(eg, s, "?p"), Some(Attr::Perm(p)) if p.iter().enumerate().all(|(i, &j)| i == j))
}

/// The attribute shape `?s` equals the shape of `?x`.
fn same_shape(eg: &EG, s: &Subst) -> bool {
    match (attr(eg, s, "?s"), ty(eg, s, "?x")) {
        (Some(Attr::Shape(d)), Some(t)) => *d == dims_of(&t.shape),
        _ => false,
    }
}

fn same_dtype(eg: &EG, s: &Subst) -> bool {
    match (attr(eg, s, "?d"), ty(eg, s, "?x")) {
        (Some(Attr::Dtype(d)), Some(t)) => *d == crate::opt::lang::dtype_code(t.dtype),
        _ => false,
    }
}

fn full_slice(eg: &EG, s: &Subst) -> bool {
    match (attr(eg, s, "?a"), ty(eg, s, "?x")) {
        (Some(Attr::Slice { axis, start: 0, end }), Some(t)) => {
            t.shape.0.get(*axis).is_some_and(|d| D::from(d) == *end)
        }
        _ => false,
    }
}

fn nonneg(eg: &EG, s: &Subst) -> bool {
    data(eg, s, "?x").nonneg
}

/// `permute(p, permute(q, x)) = permute(r, x)` with `r[i] = q[p[i]]`.
fn compose_perms(eg: &mut EG, s: &Subst) -> Option<Id> {
    let (Some(Attr::Perm(p)), Some(Attr::Perm(q))) = (attr(eg, s, "?p"), attr(eg, s, "?q")) else { return None };
    let r: Vec<usize> = p.iter().map(|&i| q.get(i).copied()).collect::<Option<_>>()?;
    let x = s[var("?x")];
    if r.iter().enumerate().all(|(i, &j)| i == j) {
        return Some(x);
    }
    let a = eg.add(TNode::Attr(Attr::Perm(r)));
    Some(eg.add(TNode::Op(Prim::Permute, vec![a, x])))
}

/// `permute(swap, matmul(a, b)) = matmul(permute(swap, b), permute(swap, a))` when neither operand
/// broadcasts (both have the result's rank) and `swap` exchanges only the last two axes.
fn transpose_matmul(eg: &mut EG, s: &Subst) -> Option<Id> {
    let Some(Attr::Perm(p)) = attr(eg, s, "?p").cloned() else { return None };
    let r = p.len();
    let swap = r >= 2 && p[..r - 2].iter().enumerate().all(|(i, &j)| i == j) && p[r - 2] == r - 1 && p[r - 1] == r - 2;
    let ranks = [ty(eg, s, "?a")?.rank(), ty(eg, s, "?b")?.rank()];
    if !swap || ranks != [r, r] {
        return None;
    }
    let pa = eg.add(TNode::Attr(Attr::Perm(p)));
    let (a, b) = (s[var("?a")], s[var("?b")]);
    let bt = eg.add(TNode::Op(Prim::Permute, vec![pa, b]));
    let at = eg.add(TNode::Op(Prim::Permute, vec![pa, a]));
    Some(eg.add(TNode::Op(Prim::MatMul, vec![bt, at])))
}

macro_rules! rule {
    ($name:literal, $group:ident, $exact:ident, $id:literal, $lhs:literal, $rhs:expr) => {
        RuleDef { name: $name, group: $group, exactness: $exact, identity: $id, lhs: $lhs, rhs: $rhs }
    };
}

/// Exact simplifications. Scalars broadcast with `expand`, so "1" is any class whose elements all
/// equal 1 (the analysis' `splat`), of any dtype.
pub const SIMPLIFY: &[RuleDef] = &[
    rule!("mul-one", Simplify, Exact, "x * 1 = x", "(mul ?x ?c)", If(one, "?x")),
    rule!("one-mul", Simplify, Exact, "1 * x = x", "(mul ?c ?x)", If(one, "?x")),
    rule!("div-one", Simplify, Exact, "x / 1 = x", "(div ?x ?c)", If(one, "?x")),
    rule!("add-zero", Simplify, ExactUpToZeroSign, "x + 0 = x", "(add ?x ?c)", If(zero, "?x")),
    rule!("zero-add", Simplify, ExactUpToZeroSign, "0 + x = x", "(add ?c ?x)", If(zero, "?x")),
    rule!("sub-zero", Simplify, Exact, "x - 0 = x", "(sub ?x ?c)", If(zero, "?x")),
    rule!("neg-neg", Simplify, Exact, "-(-x) = x", "(neg (neg ?x))", Pat("?x")),
    rule!("add-neg", Simplify, Exact, "a + (-b) = a - b (IEEE subtraction)", "(add ?a (neg ?b))", Pat("(sub ?a ?b)")),
    rule!("neg-add", Simplify, Exact, "(-b) + a = a - b", "(add (neg ?b) ?a)", Pat("(sub ?a ?b)")),
    rule!("sub-neg", Simplify, Exact, "a - (-b) = a + b", "(sub ?a (neg ?b))", Pat("(add ?a ?b)")),
    rule!("neg-sub", Simplify, ExactUpToZeroSign, "-(a - b) = b - a", "(neg (sub ?a ?b))", Pat("(sub ?b ?a)")),
    rule!("select-same", Simplify, Exact, "select(c, x, x) = x", "(select ?k ?x ?x)", Pat("?x")),
    rule!("select-true", Simplify, Exact, "select(true, a, b) = a", "(select ?c ?a ?b)", If(always_true, "?a")),
    rule!("select-false", Simplify, Exact, "select(false, a, b) = b", "(select ?c ?a ?b)", If(always_false, "?b")),
    rule!("cast-same", Simplify, Exact, "cast(x, dtype(x)) = x", "(cast ?d ?x)", If(same_dtype, "?x")),
    rule!("permute-id", Simplify, Exact, "permute(id, x) = x", "(permute ?p ?x)", If(identity_perm, "?x")),
    rule!(
        "permute-permute",
        Simplify,
        Exact,
        "permute(p, permute(q, x)) = permute(q . p, x)",
        "(permute ?p (permute ?q ?x))",
        Build(compose_perms)
    ),
    rule!(
        "transpose-matmul",
        Simplify,
        Exact,
        "(A B)^T = B^T A^T (same products, same summation order)",
        "(permute ?p (matmul ?a ?b))",
        Build(transpose_matmul)
    ),
    rule!("reshape-id", Simplify, Exact, "reshape(shape(x), x) = x", "(reshape ?s ?x)", If(same_shape, "?x")),
    rule!(
        "reshape-reshape",
        Simplify,
        Exact,
        "reshape(s, reshape(t, x)) = reshape(s, x) (row-major order is kept)",
        "(reshape ?s (reshape ?t ?x))",
        Pat("(reshape ?s ?x)")
    ),
    rule!("expand-id", Simplify, Exact, "expand(shape(x), x) = x", "(expand ?s ?x)", If(same_shape, "?x")),
    rule!(
        "expand-expand",
        Simplify,
        Exact,
        "expand(s, expand(t, x)) = expand(s, x) (broadcasting composes)",
        "(expand ?s (expand ?t ?x))",
        Pat("(expand ?s ?x)")
    ),
    rule!("slice-full", Simplify, Exact, "x[0:n] = x along an axis of size n", "(slice ?a ?x)", If(full_slice, "?x")),
];

/// Identities of real arithmetic that change floating-point rounding.
pub const FLOAT_ALGEBRA: &[RuleDef] = &[
    rule!("exp-log", FloatAlgebra, Real, "exp(log x) = x for x >= 0", "(exp (log ?x))", If(nonneg, "?x")),
    rule!("log-exp", FloatAlgebra, Real, "log(exp x) = x (where exp does not overflow)", "(log (exp ?x))", Pat("?x")),
    rule!(
        "factor-mul-left",
        FloatAlgebra,
        Real,
        "a*b + a*c = a*(b + c): one multiply fewer",
        "(add (mul ?a ?b) (mul ?a ?c))",
        Pat("(mul ?a (add ?b ?c))")
    ),
    rule!(
        "factor-mul-right",
        FloatAlgebra,
        Real,
        "b*a + c*a = (b + c)*a: one multiply fewer",
        "(add (mul ?b ?a) (mul ?c ?a))",
        Pat("(mul (add ?b ?c) ?a)")
    ),
    rule!(
        "factor-matmul-left",
        FloatAlgebra,
        Real,
        "A B + A C = A (B + C): one matmul fewer",
        "(add (matmul ?a ?b) (matmul ?a ?c))",
        Pat("(matmul ?a (add ?b ?c))")
    ),
    rule!(
        "factor-matmul-right",
        FloatAlgebra,
        Real,
        "A C + B C = (A + B) C: one matmul fewer",
        "(add (matmul ?a ?c) (matmul ?b ?c))",
        Pat("(matmul (add ?a ?b) ?c)")
    ),
];
