//! Splitting a grid axis that the kernel reads through `v / c` and `v % c` into two axes, `v = c·h + d`.
//! Attention writes its heads packed into one output axis (`[B, T, H·D]`, column `h·D + d`), so the
//! matmuls of its backward pass and the output projection index their operands by `n / D` and `n % D`:
//! the CPU backend cannot prove such an index contiguous in `n` and loads lane by lane. After the split
//! every index is affine in the new innermost axis `d`. Grid points are independent, so splitting and
//! reordering axes changes no result.

use std::collections::HashSet;

use irc_ir::DType;

use super::index::{self as ix, as_const};
use crate::kir::{BinOp, Expr, Kernel, Stmt, VarId};

/// Splits the innermost grid axis `v` of static extent `E` when every `/` and `%` of `v` is by one
/// constant `c` (at least 4, dividing `E`, below `E`): `v` becomes `d` of extent `c`, innermost, and `h`
/// of extent `E / c` goes `before` axes from the end (after the split), so that a matmul's row axis stays
/// just before the innermost one for register tiling. Returns whether it split.
pub(super) fn split_grouped_axis(k: &mut Kernel, before: usize) -> bool {
    let Some((v, extent)) = k.grid.last().cloned() else { return false };
    let Some(e) = as_const(&extent) else { return false };
    let mut divisors = HashSet::new();
    Stmt::visit_exprs(&k.body, &mut |x| {
        if let Expr::Binary { op: BinOp::Div | BinOp::Rem, lhs, rhs } = x
            && **lhs == Expr::Var(v)
        {
            divisors.insert(as_const(rhs));
        }
    });
    let c = match divisors.into_iter().collect::<Vec<_>>()[..] {
        [Some(c)] if c >= 4 && c < e && e % c == 0 => c,
        _ => return false,
    };
    let name = k.vars[v.0 as usize].name.clone();
    let h = k.var(format!("{name}_hi"), DType::I64);
    let d = k.var(format!("{name}_lo"), DType::I64);
    for s in &mut k.body {
        rewrite_stmt(s, &mut |x| rewrite(x, v, c, h, d));
    }
    k.grid.pop();
    let at = k.grid.len().saturating_sub(before.saturating_sub(1));
    k.grid.insert(at, (h, ix::c(e / c)));
    k.grid.push((d, ix::c(c)));
    true
}

/// `x` with `v / c` as `h`, `v % c` as `d` and any other `v` as `h·c + d`.
fn rewrite(x: &mut Expr, v: VarId, c: i64, h: VarId, d: VarId) {
    match x {
        Expr::Binary { op: op @ (BinOp::Div | BinOp::Rem), lhs, rhs }
            if **lhs == Expr::Var(v) && as_const(rhs) == Some(c) =>
        {
            *x = Expr::Var(if *op == BinOp::Div { h } else { d });
        }
        Expr::Var(u) if *u == v => *x = ix::add(ix::mul(Expr::Var(h), ix::c(c)), Expr::Var(d)),
        _ => x.for_each_child_mut(|y| rewrite(y, v, c, h, d)),
    }
}

/// Applies `f` to every expression of `s`, nested statements included.
fn rewrite_stmt(s: &mut Stmt, f: &mut impl FnMut(&mut Expr)) {
    match s {
        Stmt::Let { value, .. } | Stmt::Assign { value, .. } => f(value),
        Stmt::Store { index, value, .. } | Stmt::SharedStore { index, value, .. } => {
            f(index);
            f(value);
        }
        Stmt::Loop { extent: head, body, .. } | Stmt::If { cond: head, body } => {
            f(head);
            for s in body {
                rewrite_stmt(s, f);
            }
        }
        Stmt::Barrier => {}
    }
}
