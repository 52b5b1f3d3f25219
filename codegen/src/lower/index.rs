//! `i64` index arithmetic for lowering: constructors that fold constants and drop identities (so dumps
//! read `x[((b * T) + t) * 64 + d]`, not a tree of `* 1` and `+ 0`), dims as expressions, row-major
//! ravel, clamping, and the index maps of reshape.

use irc_ir::{DType, Dim};

use crate::kir::{BinOp, Expr};

/// The constant value of an `i64` expression, if it is one.
pub(super) fn as_const(e: &Expr) -> Option<i64> {
    match e {
        Expr::Const { value, dtype: DType::I64 } => Some(*value as i64),
        _ => None,
    }
}

pub(super) fn c(v: i64) -> Expr {
    Expr::index(v)
}

fn bin(op: BinOp, a: Expr, b: Expr) -> Expr {
    Expr::binary(op, a, b)
}

/// `e` as `(x, k)` with `e == x + k` for a constant `k`.
fn split_offset(e: Expr) -> (Option<Expr>, i64) {
    if let Some(k) = as_const(&e) {
        return (None, k);
    }
    if let Expr::Binary { op: op @ (BinOp::Add | BinOp::Sub), lhs, rhs } = &e
        && let Some(k) = as_const(rhs)
    {
        return (Some((**lhs).clone()), if *op == BinOp::Add { k } else { k.wrapping_neg() });
    }
    (Some(e), 0)
}

/// `x + k`, written `x - |k|` for negative `k`.
fn offset(x: Expr, k: i64) -> Expr {
    match k {
        0 => x,
        k if k < 0 && k != i64::MIN => bin(BinOp::Sub, x, c(-k)),
        k => bin(BinOp::Add, x, c(k)),
    }
}

pub(super) fn add(a: Expr, b: Expr) -> Expr {
    // Keep constants on the right and merged, so `(i + 1) + -1` folds back to `i`.
    let (a, b) = if as_const(&a).is_some() { (b, a) } else { (a, b) };
    match (split_offset(a), as_const(&b)) {
        ((None, x), Some(y)) => c(x.wrapping_add(y)),
        ((Some(x), k), Some(y)) => offset(x, k.wrapping_add(y)),
        ((x, k), None) => {
            let sum = match x {
                Some(x) => bin(BinOp::Add, x, b),
                None => b,
            };
            offset(sum, k)
        }
    }
}

pub(super) fn sub(a: Expr, b: Expr) -> Expr {
    match as_const(&b) {
        Some(k) => add(a, c(k.wrapping_neg())),
        None if a == b => c(0),
        None => bin(BinOp::Sub, a, b),
    }
}

pub(super) fn mul(a: Expr, b: Expr) -> Expr {
    let (a, b) = if as_const(&a).is_some() { (b, a) } else { (a, b) };
    match (as_const(&a), as_const(&b)) {
        (Some(x), Some(y)) => c(x.wrapping_mul(y)),
        (_, Some(0)) => c(0),
        (_, Some(1)) => a,
        (_, Some(y)) => match &a {
            // (x * k) * y = x * (k * y)
            Expr::Binary { op: BinOp::Mul, lhs, rhs } if as_const(rhs).is_some() => {
                mul((**lhs).clone(), c(as_const(rhs).unwrap_or(1).wrapping_mul(y)))
            }
            _ => bin(BinOp::Mul, a, b),
        },
        _ => bin(BinOp::Mul, a, b),
    }
}

pub(super) fn div(a: Expr, b: Expr) -> Expr {
    match (as_const(&a), as_const(&b)) {
        (_, Some(1)) => a,
        (Some(0), _) => c(0),
        (Some(x), Some(y)) if y != 0 => c(x.wrapping_div(y)),
        _ => bin(BinOp::Div, a, b),
    }
}

pub(super) fn rem(a: Expr, b: Expr) -> Expr {
    match (as_const(&a), as_const(&b)) {
        (_, Some(1)) | (Some(0), _) => c(0),
        (Some(x), Some(y)) if y != 0 => c(x.wrapping_rem(y)),
        _ => bin(BinOp::Rem, a, b),
    }
}

pub(super) fn min(a: Expr, b: Expr) -> Expr {
    match (as_const(&a), as_const(&b)) {
        (Some(x), Some(y)) => c(x.min(y)),
        _ => bin(BinOp::Min, a, b),
    }
}

pub(super) fn max(a: Expr, b: Expr) -> Expr {
    match (as_const(&a), as_const(&b)) {
        (Some(x), Some(y)) => c(x.max(y)),
        _ => bin(BinOp::Max, a, b),
    }
}

pub(super) fn lt(a: Expr, b: Expr) -> Expr {
    bin(BinOp::Lt, a, b)
}

/// `x` clamped to `0..=n-1`; each side only where it can be violated. For `n == 0` this gives 0, which
/// is always addressable because every buffer holds at least one element.
pub(super) fn clamp(x: Expr, n: Expr, low: bool, high: bool) -> Expr {
    let x = if high { min(x, sub(n, c(1))) } else { x };
    if low { max(x, c(0)) } else { x }
}

/// Row-major flat offset of `idx` in a tensor of `dims` (Horner form: `((i0 * d1 + i1) * d2 + i2)`).
pub(super) fn ravel(idx: &[Expr], dims: &[Expr]) -> Expr {
    debug_assert_eq!(idx.len(), dims.len());
    let mut flat = c(0);
    for (i, d) in idx.iter().zip(dims) {
        flat = add(mul(flat, d.clone()), i.clone());
    }
    flat
}

/// The product of `dims` (an element count).
pub(super) fn product(dims: &[Expr]) -> Expr {
    dims.iter().fold(c(1), |acc, d| mul(acc, d.clone()))
}

/// Reshape's dims grouped so that each group of output dims holds exactly the elements of a group of
/// input dims: `[B, T, 64] -> [B, T, 4, 16]` gives `[B]->[B], [T]->[T], [64]->[4, 16]`. Index arithmetic then
/// stays within a group, so untouched axes keep their plain indices. Size-1 dims are left out of every
/// group (their index is 0). Returns `(input axes, output axes)` per group; when the dims cannot be matched
/// group by group (symbolic dims in different places) everything is one group.
pub(super) fn reshape_groups(input: &[Dim], output: &[Dim]) -> Vec<(Vec<usize>, Vec<usize>)> {
    let ins: Vec<usize> = (0..input.len()).filter(|&i| !input[i].is_one()).collect();
    let outs: Vec<usize> = (0..output.len()).filter(|&i| !output[i].is_one()).collect();
    let parts =
        |dims: &[Dim], axes: &[usize]| irc_ir::Shape(axes.iter().map(|&a| dims[a].clone()).collect()).numel_parts();
    let whole = vec![(ins.clone(), outs.clone())];
    let (mut groups, mut gi, mut go) = (Vec::new(), Vec::new(), Vec::new());
    let (mut i, mut o) = (0, 0);
    while i < ins.len() || o < outs.len() {
        let (pi, po) = (parts(input, &gi), parts(output, &go));
        if !gi.is_empty() && !go.is_empty() && pi == po {
            groups.push((std::mem::take(&mut gi), std::mem::take(&mut go)));
            continue;
        }
        // Grow the side with fewer elements (symbols count as large); when one side is used up, the other.
        let grow_in =
            o >= outs.len() || (i < ins.len() && (gi.is_empty() || (pi.0 < po.0 && pi.1.len() <= po.1.len())));
        if grow_in {
            gi.push(ins[i]);
            i += 1;
        } else {
            go.push(outs[o]);
            o += 1;
        }
    }
    if !gi.is_empty() || !go.is_empty() {
        if parts(input, &gi) != parts(output, &go) {
            return whole;
        }
        groups.push((gi, go));
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kir::VarId;

    fn v(i: u32) -> Expr {
        Expr::Var(VarId(i))
    }

    #[test]
    fn folds_identities_and_constants() {
        assert_eq!(add(v(0), c(0)), v(0));
        assert_eq!(add(add(v(0), c(1)), c(-1)), v(0));
        assert_eq!(sub(add(v(0), c(3)), c(3)), v(0));
        assert_eq!(sub(v(0), c(1)), Expr::binary(BinOp::Sub, v(0), c(1)));
        assert_eq!(add(sub(v(0), c(1)), c(3)), add(v(0), c(2)));
        assert_eq!(mul(v(0), c(1)), v(0));
        assert_eq!(mul(c(0), v(0)), c(0));
        assert_eq!(mul(mul(v(0), c(4)), c(2)), mul(v(0), c(8)));
        assert_eq!(div(v(1), c(1)), v(1));
        assert_eq!(rem(v(1), c(1)), c(0));
        assert_eq!(add(mul(c(2), c(3)), c(4)), c(10));
        assert_eq!(ravel(&[c(0), v(1)], &[c(3), c(5)]), v(1));
    }

    #[test]
    fn reshape_groups_keep_untouched_axes() {
        let d = |s: &str| s.parse::<Dim>().unwrap();
        let g = reshape_groups(&[d("B"), d("T"), d("64")], &[d("B"), d("T"), d("4"), d("16")]);
        assert_eq!(g, vec![(vec![0], vec![0]), (vec![1], vec![1]), (vec![2], vec![2, 3])]);
        let g = reshape_groups(&[d("6"), d("1"), d("4")], &[d("2"), d("12")]);
        assert_eq!(g, vec![(vec![0, 2], vec![0, 1])]);
        let g = reshape_groups(&[d("T"), d("4")], &[d("2"), d("T"), d("2")]);
        assert_eq!(g.len(), 1);
        let g = reshape_groups(&[d("1")], &[]);
        assert!(g.is_empty());
    }
}
