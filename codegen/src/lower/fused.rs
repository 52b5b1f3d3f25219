//! Kernels of the fused ops (`irc_ir::fused`). Both are plain kernel IR (loops, accumulators, stores),
//! so every code generator reads them; they run one thread per grid point in both schedules.
//!
//! - `attention`: one grid point per query row (batch dims and `T`); a loop over the keys computes the
//!   score, masks it exactly as the expansion does (`fill` where `j > i`), keeps an online max `m`
//!   and running sum `l`, and accumulates the rescaled output row in the output buffer, which is
//!   divided by `l` at the end. The `T x S` scores never reach memory.
//! - `monarch`: one grid point per (row, output block `q`): for each input block `i`, the
//!   intermediate `u[i, q]` (a dot product with `r[i, :, q]`) is computed and immediately scattered
//!   into the `c` outputs `y[k * m2 + q] += u * l[q, i, k]`; both stride permutations are index
//!   arithmetic and the intermediate stays in a register.

use irc_ir::{DType, NodeId};

use super::build::{Builder, Built, compute_dtype};
use super::index::{self as ix, c};
use super::kernels::{grid, store_at, with};
use crate::kir::{Access, BinOp, Expr, Stmt, VarId};

fn var(v: VarId) -> Expr {
    Expr::Var(v)
}

fn bin(op: BinOp, a: Expr, b: Expr) -> Expr {
    Expr::binary(op, a, b)
}

fn exp(x: Expr) -> Expr {
    Expr::unary(irc_ir::UnaryOp::Exp, x)
}

/// `let name = value` as a fresh variable of `dtype`.
fn let_var(b: &mut Builder, name: &str, dtype: DType, value: Expr) -> VarId {
    let v = b.var(name, dtype);
    b.emit(Stmt::Let { var: v, value });
    v
}

/// `attention(q, kt, v)` of node `n` into buffer `out`.
pub(super) fn attention(b: &mut Builder, n: NodeId, scale: f64, causal: bool, fill: f64, out: usize) -> Built<()> {
    let node = b.g.node(n);
    let (q, kt, v) = (node.inputs[0], node.inputs[1], node.inputs[2]);
    let cd = compute_dtype(node.ty.dtype);
    let shape = b.shape(n);
    let r = shape.rank();
    let (row, col) = (r - 2, r - 1);
    let base = grid(b, shape, &(0..col).collect::<Vec<_>>());
    let dims = b.dims(shape);
    let kts = b.shape(kt);
    let (width, keys) = (b.dim(&kts.dims()[row]), b.dim(&kts.dims()[col]));
    let i = base[row].clone();
    let zero = Expr::constant(0.0, cd);
    b.for_axes(&[col], &dims, "e", |b, e| {
        store_at(b, out, shape, &with(&base, col, e[0].clone()), zero.clone());
        Ok(())
    })?;
    let m = let_var(b, "m", cd, Expr::constant(f64::NEG_INFINITY, cd));
    let l = let_var(b, "l", cd, zero.clone());
    let fill = Expr::constant(crate::kir::round_to(node.ty.dtype, fill), cd);
    // One key `j` of the online softmax.
    let step = |b: &mut Builder, j: Expr| -> Built<()> {
        let dot = let_var(b, "dot", cd, zero.clone());
        let k = b.var("k", DType::I64);
        b.for_loop(k, width.clone(), |b| {
            let qv = b.value(q, &with(&base, col, var(k)))?;
            let kv = b.value(kt, &with(&with(&base, row, var(k)), col, j.clone()))?;
            b.emit(Stmt::Assign { var: dot, value: bin(BinOp::Add, var(dot), bin(BinOp::Mul, qv, kv)) });
            Ok(())
        })?;
        let mut score = bin(BinOp::Mul, var(dot), Expr::constant(crate::kir::round_to(node.ty.dtype, scale), cd));
        if causal {
            score = Expr::select(bin(BinOp::Le, j.clone(), i.clone()), score, fill.clone());
        }
        let s = let_var(b, "s", cd, score);
        let mn = let_var(b, "mn", cd, bin(BinOp::Max, var(m), var(s)));
        let corr = let_var(b, "corr", cd, exp(bin(BinOp::Sub, var(m), var(mn))));
        let p = let_var(b, "p", cd, exp(bin(BinOp::Sub, var(s), var(mn))));
        let sum = bin(BinOp::Add, bin(BinOp::Mul, var(l), var(corr)), var(p));
        b.emit(Stmt::Assign { var: l, value: sum });
        b.for_axes(&[col], &dims, "e", |b, e| {
            let at = with(&base, col, e[0].clone());
            let acc = b.load_buffer(out, shape, &at, Access::Write);
            let vv = b.value(v, &with(&with(&base, row, j.clone()), col, e[0].clone()))?;
            let next = bin(BinOp::Add, bin(BinOp::Mul, acc, var(corr)), bin(BinOp::Mul, var(p), vv));
            store_at(b, out, shape, &at, next);
            Ok(())
        })?;
        b.emit(Stmt::Assign { var: m, value: var(mn) });
        Ok(())
    };
    let j = b.var("j", DType::I64);
    if !causal {
        b.for_loop(j, keys, |b| step(b, var(j)))?;
    } else {
        // Keys `0..=i` are visible; the masked ones after them all score `fill`. Once `exp(fill - m)`
        // is 0 each masked step leaves `m`, `l` and the row as they are (`corr = 1`, `p = 0`), so they
        // are visited only when it is not (`fill` near the scores, or a NaN).
        // Not bound to a `let`: the flop estimate reads `min(S, i + 1)` as `S`.
        let visible = ix::min(keys.clone(), ix::add(i.clone(), c(1)));
        b.for_loop(j, visible.clone(), |b| step(b, var(j)))?;
        let reaches = bin(BinOp::Ne, exp(bin(BinOp::Sub, fill.clone(), var(m))), zero.clone());
        let masked = b.var("jm", DType::I64);
        b.if_then(reaches, |b| {
            b.for_loop(masked, ix::sub(keys, visible.clone()), |b| step(b, ix::add(visible, var(masked))))
        })?;
    }
    // No keys: the expansion's `0 / 0` weights meet an empty matmul, which gives zeros.
    b.for_axes(&[col], &dims, "e", |b, e| {
        let at = with(&base, col, e[0].clone());
        let acc = b.load_buffer(out, shape, &at, Access::Write);
        let empty = bin(BinOp::Eq, var(l), zero.clone());
        store_at(b, out, shape, &at, Expr::select(empty, acc.clone(), bin(BinOp::Div, acc, var(l))));
        Ok(())
    })
}

/// `monarch(x, r, l)` of node `n` into buffer `out`.
pub(super) fn monarch(b: &mut Builder, n: NodeId, out: usize) -> Built<()> {
    let node = b.g.node(n);
    let (x, rf, lf) = (node.inputs[0], node.inputs[1], node.inputs[2]);
    let cd = compute_dtype(node.ty.dtype);
    let (m1, a, m2, cw) = irc_ir::fused::monarch_dims(b.shape(rf), b.shape(lf))
        .ok_or_else(|| super::build::BuildError::Internal(format!("{n}: monarch factors are not static")))?;
    let shape = b.shape(n);
    let last = shape.rank() - 1;
    let lead: Vec<usize> = (0..last).collect();
    let base = grid(b, shape, &lead);
    let qv = b.var("q", DType::I64);
    b.k.grid.push((qv, c(m2 as i64)));
    let q = var(qv);
    // Output element `k * m2 + q` of this row.
    let at = |k: Expr| with(&base, last, ix::add(ix::mul(k, c(m2 as i64)), q.clone()));
    let zero = Expr::constant(0.0, cd);
    let k0 = b.var("k", DType::I64);
    b.for_loop(k0, c(cw as i64), |b| {
        store_at(b, out, shape, &at(var(k0)), zero.clone());
        Ok(())
    })?;
    let iv = b.var("i", DType::I64);
    b.for_loop(iv, c(m1 as i64), |b| {
        let u = let_var(b, "u", cd, zero.clone());
        let pv = b.var("p", DType::I64);
        b.for_loop(pv, c(a as i64), |b| {
            let xi = with(&base, last, ix::add(ix::mul(var(iv), c(a as i64)), var(pv)));
            let xv = b.value(x, &xi)?;
            let rv = b.value(rf, &[var(iv), var(pv), q.clone()])?;
            b.emit(Stmt::Assign { var: u, value: bin(BinOp::Add, var(u), bin(BinOp::Mul, xv, rv)) });
            Ok(())
        })?;
        let k = b.var("k", DType::I64);
        b.for_loop(k, c(cw as i64), |b| {
            let o = at(var(k));
            let acc = b.load_buffer(out, shape, &o, Access::Write);
            let lv = b.value(lf, &[q.clone(), var(iv), var(k)])?;
            store_at(b, out, shape, &o, bin(BinOp::Add, acc, bin(BinOp::Mul, var(u), lv)));
            Ok(())
        })
    })
}
