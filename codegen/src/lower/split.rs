//! Splitting a grid axis that the kernel reads through `v / c` and `v % c` into two axes, `v = c·h + d`.
//! Attention writes its heads packed into one axis (`[B, T, H·D]`, column `h·D + d`), so the matmuls of
//! its backward pass index their operands by `n / D` and `n % D` (a column axis: the CPU backend cannot
//! prove such an index contiguous and loads lane by lane) or `m / D` and `m % D` (a row axis: a division
//! and a remainder per row and step of `k`). After the split every index is affine in the new axes.
//! Grid points are independent, so splitting and reordering axes changes no result.

use irc_ir::DType;

use super::index::{self as ix, as_const};
use crate::kir::{Expr, Kernel, Stmt, divisors_of, split_var};

/// Splits grid axis `pos` (`v`, of static extent `E`) when every `/` and `%` of `v` in the kernel is by
/// one constant `c` (at least 4, dividing `E`, below `E`): `v` becomes `h` of extent `E / c` at `pos` and
/// `d` of extent `c` after it. Returns whether it split.
pub(super) fn split_grouped_axis(k: &mut Kernel, pos: usize) -> bool {
    let Some((v, extent)) = k.grid.get(pos).cloned() else { return false };
    let Some(e) = as_const(&extent) else { return false };
    let c = match divisors_of(v, &k.body)[..] {
        [Some(c)] if c >= 4 && c < e && e % c == 0 => c,
        _ => return false,
    };
    let name = k.vars[v.0 as usize].name.clone();
    let h = k.var(format!("{name}_hi"), DType::I64);
    let d = k.var(format!("{name}_lo"), DType::I64);
    for s in &mut k.body {
        rewrite_stmt(s, &mut |x| split_var(x, v, c, h, d));
    }
    k.grid.splice(pos..=pos, [(h, ix::c(e / c)), (d, ix::c(c))]);
    true
}

/// A matmul kernel's grid `[.., m, n]` on the CPU schedule: a split column axis `n` (heads packed into
/// the output) puts its `h` before the row axis, so that `m` stays just before the innermost axis for
/// register tiling; then a split row axis `m` (heads packed into the rows of `A`, as in the gradient of
/// a projection) keeps `d` there.
pub(super) fn split_matmul_axes(k: &mut Kernel) {
    let n = k.grid.len();
    if n >= 2 && split_grouped_axis(k, n - 1) {
        k.grid.swap(n - 2, n - 1);
    }
    let n = k.grid.len();
    if n >= 2 {
        split_grouped_axis(k, n - 2);
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
