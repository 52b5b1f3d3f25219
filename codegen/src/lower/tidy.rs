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
            Stmt::Store { index, value, .. } | Stmt::SharedStore { index, value, .. } => {
                count(index, counts);
                count(value, counts);
            }
            Stmt::Loop { extent: head, body, .. } | Stmt::If { cond: head, body } => {
                count(head, counts);
                count_block(body, counts);
            }
            Stmt::Barrier => {}
        }
    }
}

fn count(e: &Expr, counts: &mut HashMap<VarId, usize>) {
    e.visit(&mut |x| {
        if let Expr::Var(v) = x {
            *counts.entry(*v).or_insert(0) += 1;
        }
    });
}

pub(super) fn subst(e: &mut Expr, v: VarId, value: &Expr) {
    match e {
        Expr::Var(x) if *x == v => *e = value.clone(),
        Expr::Const { .. } | Expr::Var(_) | Expr::Size(_) => {}
        Expr::Load { index, .. } | Expr::SharedLoad { index, .. } => subst(index, v, value),
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
            Stmt::Let { value, .. } => value.mentions(v),
            Stmt::Assign { value, .. } => return value.mentions(v).then_some(j),
            Stmt::Store { index, value, .. } | Stmt::SharedStore { index, value, .. } => {
                return (index.mentions(v) || value.mentions(v)).then_some(j);
            }
            Stmt::Loop { extent: head, .. } | Stmt::If { cond: head, .. } => return head.mentions(v).then_some(j),
            Stmt::Barrier => return None,
        };
        if here {
            return Some(j);
        }
    }
    None
}

fn tidy_block(block: &mut Vec<Stmt>, counts: &HashMap<VarId, usize>) {
    for s in block.iter_mut() {
        if let Stmt::Loop { body, .. } | Stmt::If { body, .. } = s {
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
            Stmt::Store { index, value: e, .. } | Stmt::SharedStore { index, value: e, .. } => {
                subst(index, var, &value);
                subst(e, var, &value);
            }
            Stmt::Loop { extent: head, .. } | Stmt::If { cond: head, .. } => subst(head, var, &value),
            Stmt::Barrier => {}
        }
        block.remove(i);
    }
}
