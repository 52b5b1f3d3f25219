//! Tidying a built kernel body: a `let` whose variable is read exactly once, by a later statement of the
//! same block with only other `let`s in between, is substituted into that read. The builder binds every
//! value that *might* be shared; this keeps the ones that are, so dumps read `acc + exp(x - m)`.

use std::collections::HashMap;

use crate::kir::{Expr, Stmt, VarId};

pub(super) fn inline_single_uses(body: &mut Vec<Stmt>) {
    let mut counts = HashMap::new();
    count_block(body, &mut counts);
    tidy_block(body, &counts);
}

fn count_block(body: &[Stmt], counts: &mut HashMap<VarId, usize>) {
    for s in body {
        match s {
            Stmt::Let { value, .. } | Stmt::Assign { value, .. } => count(value, counts),
            Stmt::Store { index, value, .. } => {
                count(index, counts);
                count(value, counts);
            }
            Stmt::Loop { extent, body, .. } => {
                count(extent, counts);
                count_block(body, counts);
            }
        }
    }
}

fn count(e: &Expr, counts: &mut HashMap<VarId, usize>) {
    visit(e, &mut |x| {
        if let Expr::Var(v) = x {
            *counts.entry(*v).or_insert(0) += 1;
        }
    });
}

pub(super) fn visit(e: &Expr, f: &mut impl FnMut(&Expr)) {
    f(e);
    match e {
        Expr::Const { .. } | Expr::Var(_) | Expr::Size(_) => {}
        Expr::Load { index, .. } => visit(index, f),
        Expr::Unary { arg, .. } | Expr::Cast { arg, .. } => visit(arg, f),
        Expr::Binary { lhs, rhs, .. } => {
            visit(lhs, f);
            visit(rhs, f);
        }
        Expr::Select { cond, a, b } => {
            visit(cond, f);
            visit(a, f);
            visit(b, f);
        }
    }
}

pub(super) fn mentions(e: &Expr, v: VarId) -> bool {
    let mut found = false;
    visit(e, &mut |x| found |= *x == Expr::Var(v));
    found
}

pub(super) fn subst(e: &mut Expr, v: VarId, value: &Expr) {
    match e {
        Expr::Var(x) if *x == v => *e = value.clone(),
        Expr::Const { .. } | Expr::Var(_) | Expr::Size(_) => {}
        Expr::Load { index, .. } => subst(index, v, value),
        Expr::Unary { arg, .. } | Expr::Cast { arg, .. } => subst(arg, v, value),
        Expr::Binary { lhs, rhs, .. } => {
            subst(lhs, v, value);
            subst(rhs, v, value);
        }
        Expr::Select { cond, a, b } => {
            subst(cond, v, value);
            subst(a, v, value);
            subst(b, v, value);
        }
    }
}

/// Where the single read of `v` after statement `i` can take the let's value: the statement index, if
/// it is reached across `let`s only and reads `v` outside any loop body.
fn target(block: &[Stmt], i: usize, v: VarId) -> Option<usize> {
    for (j, s) in block.iter().enumerate().skip(i + 1) {
        let here = match s {
            Stmt::Let { value, .. } => mentions(value, v),
            Stmt::Assign { value, .. } => return mentions(value, v).then_some(j),
            Stmt::Store { index, value, .. } => return (mentions(index, v) || mentions(value, v)).then_some(j),
            Stmt::Loop { extent, .. } => return mentions(extent, v).then_some(j),
        };
        if here {
            return Some(j);
        }
    }
    None
}

fn tidy_block(block: &mut Vec<Stmt>, counts: &HashMap<VarId, usize>) {
    for s in block.iter_mut() {
        if let Stmt::Loop { body, .. } = s {
            tidy_block(body, counts);
        }
    }
    let mut i = 0;
    while i < block.len() {
        let found = match &block[i] {
            Stmt::Let { var, value } if counts.get(var) == Some(&1) => {
                target(block, i, *var).map(|j| (j, *var, value.clone()))
            }
            _ => None,
        };
        let Some((j, var, value)) = found else {
            i += 1;
            continue;
        };
        match &mut block[j] {
            Stmt::Let { value: e, .. } | Stmt::Assign { value: e, .. } => subst(e, var, &value),
            Stmt::Store { index, value: e, .. } => {
                subst(index, var, &value);
                subst(e, var, &value);
            }
            Stmt::Loop { extent, .. } => subst(extent, var, &value),
        }
        block.remove(i);
    }
}
