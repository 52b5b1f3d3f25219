//! Keeping a row kernel's expensive terms: softmax sums `exp(x - m)` over the row and then stores
//! `exp(x - m) / s` for the same row, computing every exponential twice. When the output has the term's
//! dtype, the sum loop can store each term into the output element it becomes part of, and the final
//! loop load it back:
//!
//! ```text
//! for r in 0..n { acc = acc + E(r) }          for r in 0..n { let e = E(r); out[b + r] = e; acc = acc + e }
//! for j in 0..n { out[b + j] = F(E(j)) }  =>  for j in 0..n { out[b + j] = F(out[b + j]) }
//! ```
//!
//! A grid point may load what it stored itself, the stored value is the term exactly (same dtype), and
//! nothing between the loops changes what `E` reads, so every result is what it was, bit for bit.

use std::collections::HashSet;

use irc_ir::UnaryOp;

use super::tidy::subst;
use super::tile::walk;
use crate::kir::{Access, BinOp, Expr, Kernel, Stmt, VarId};

/// Rewrites each top-level sum loop of `k` whose term calls a transcendental function and is recomputed
/// by the value a later top-level loop over the same extent stores (see the module docs).
pub(super) fn keep_row_terms(k: &mut Kernel) {
    for i in 0..k.body.len() {
        let Some((r, term)) = sum_term(k, &k.body[i]) else { continue };
        let Some((at, buf, base)) = (i + 1..k.body.len()).find_map(|at| reader(k, i, at, r, &term)) else {
            continue;
        };
        let e = k.var(format!("e{}", k.vars.len()), k.dtype_of(&term));
        if let Stmt::Loop { body, .. } = &mut k.body[i]
            && let Some(Stmt::Assign { value: Expr::Binary { lhs, rhs, .. }, .. }) = body.last_mut()
        {
            let slot = if **lhs == term { lhs } else { rhs };
            **slot = Expr::Var(e);
            let store =
                Stmt::Store { buf, index: Expr::binary(BinOp::Add, base.clone(), Expr::Var(r)), value: Expr::Var(e) };
            body.splice(0..0, [Stmt::Let { var: e, value: term.clone() }, store]);
        }
        if let Stmt::Loop { var: j, body, .. } = &mut k.body[at]
            && let Some(Stmt::Store { value, .. }) = body.last_mut()
        {
            let (mut at_j, j) = (term, Expr::Var(*j));
            subst(&mut at_j, r, &j);
            replace(value, &at_j, &Expr::load(buf, Expr::binary(BinOp::Add, base, j)));
        }
    }
}

/// The loop variable and term of `for r in 0..n { acc = acc + term }` (either operand order), when the
/// term is a float that calls a transcendental function and does not read `acc`.
fn sum_term(k: &Kernel, s: &Stmt) -> Option<(VarId, Expr)> {
    let Stmt::Loop { var, body, .. } = s else { return None };
    let [Stmt::Assign { var: acc, value: Expr::Binary { op: BinOp::Add, lhs, rhs } }] = body.as_slice() else {
        return None;
    };
    let term = match (&**lhs, &**rhs) {
        (Expr::Var(a), t) | (t, Expr::Var(a)) if a == acc => t,
        _ => return None,
    };
    let (mut expensive, mut reads_acc) = (false, false);
    term.visit(&mut |x| {
        reads_acc |= *x == Expr::Var(*acc);
        expensive |= matches!(
            x,
            Expr::Unary { op: UnaryOp::Exp | UnaryOp::Log | UnaryOp::Tanh | UnaryOp::Sin | UnaryOp::Cos, .. }
                | Expr::Binary { op: BinOp::Pow, .. }
        );
    });
    (expensive && !reads_acc && k.dtype_of(term).is_float()).then(|| (*var, term.clone()))
}

/// When top-level statement `at` is `for j in 0..n { ...; out[base + j] = F }` over the extent of sum
/// loop `sum`, with `term` (at `j`) inside `F`: the output buffer and `base`, if keeping the terms there
/// is exact. It is when `out` has the term's dtype, is written by that store only and is not read, the
/// term reads only buffers the kernel does not write, and nothing from `sum` to `at` (past `sum`'s own
/// loop variable and `j`) defines a variable that the term or `base` reads.
fn reader(k: &Kernel, sum: usize, at: usize, r: VarId, term: &Expr) -> Option<(usize, usize, Expr)> {
    let (Stmt::Loop { extent: n, .. }, Stmt::Loop { var: j, extent, body }) = (&k.body[sum], &k.body[at]) else {
        return None;
    };
    let Some(Stmt::Store { buf, index: Expr::Binary { op: BinOp::Add, lhs: base, rhs: jv }, value }) = body.last()
    else {
        return None;
    };
    let mut at_j = term.clone();
    subst(&mut at_j, r, &Expr::Var(*j));
    if extent != n || **jv != Expr::Var(*j) || !contains(value, &at_j) {
        return None;
    }
    if k.buffers[*buf].dtype != k.dtype_of(term) || k.buffers[*buf].access != Access::Write {
        return None;
    }
    let mut defined = HashSet::new();
    walk(&k.body[sum..=at], &mut |s| match s {
        Stmt::Let { var, .. } | Stmt::Assign { var, .. } | Stmt::Loop { var, .. } => drop(defined.insert(*var)),
        Stmt::Store { .. } | Stmt::If { .. } | Stmt::SharedStore { .. } | Stmt::Barrier => {}
    });
    defined.remove(&r);
    defined.remove(j);
    let mut ok = true;
    for e in [term, &**base] {
        e.visit(&mut |x| match x {
            Expr::Var(v) => ok &= !defined.contains(v),
            Expr::Load { buf: b, .. } => ok &= k.buffers[*b].access == Access::Read,
            _ => {}
        });
    }
    let mut stores = 0;
    walk(&k.body, &mut |s| {
        let exprs: Vec<&Expr> = match s {
            Stmt::Store { buf: b, index, value } => {
                stores += (b == buf) as usize;
                vec![index, value]
            }
            Stmt::Let { value, .. } | Stmt::Assign { value, .. } => vec![value],
            Stmt::Loop { extent: head, .. } | Stmt::If { cond: head, .. } => vec![head],
            Stmt::SharedStore { index, value, .. } => vec![index, value],
            Stmt::Barrier => vec![],
        };
        for e in exprs {
            e.visit(&mut |x| ok &= !matches!(x, Expr::Load { buf: b, .. } if b == buf));
        }
    });
    (ok && stores == 1).then(|| (at, *buf, (**base).clone()))
}

fn contains(e: &Expr, part: &Expr) -> bool {
    e.any(|x| x == part)
}

/// Replaces every occurrence of `part` in `e` by `by`.
fn replace(e: &mut Expr, part: &Expr, by: &Expr) {
    if e == part {
        *e = by.clone();
        return;
    }
    e.for_each_child_mut(|x| replace(x, part, by));
}
