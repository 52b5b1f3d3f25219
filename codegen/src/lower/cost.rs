//! What a kernel is called and what it costs: its name from the ops it computes, bytes moved and an
//! estimate of floating-point operations, both as `i64` expressions over the kernel's sizes.

use std::collections::BTreeMap;

use irc_ir::{DType, Graph, NodeId, Op};

use super::index::{self as ix, c};
use crate::kir::{Expr, Kernel, Stmt};

/// Most op names in a kernel name after `k{i}_`.
const NAME_PARTS: usize = 4;

/// `k{index}_` followed by the kernel's main op (`matmul`, `reduce_sum`, ...) and then the other ops it
/// computes, in node order, without repeats: `k5_matmul_add_tanh`, `k3_reduce_max_reduce_sum_sub_exp`.
pub(super) fn name(index: usize, g: &Graph, root: NodeId, copy: bool, locals: &[NodeId], nodes: &[NodeId]) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let push = |s: &'static str, parts: &mut Vec<&str>| {
        if !parts.contains(&s) && parts.len() < NAME_PARTS {
            parts.push(s);
        }
    };
    if copy {
        push("copy", &mut parts);
    }
    let heavy = |op: &Op| {
        op.is_fused()
            || matches!(
                op,
                Op::Reduce { .. } | Op::MatMul | Op::Cumsum { .. } | Op::Gather { .. } | Op::ScatterAdd { .. }
            )
    };
    for &n in locals.iter().chain([&root]) {
        if heavy(&g.node(n).op) {
            push(g.node(n).op.name(), &mut parts);
        }
    }
    for &n in nodes {
        if g.node(n).op.is_elementwise() {
            push(g.node(n).op.name(), &mut parts);
        }
    }
    if parts.is_empty() {
        // Pure data movement or constants: name the outermost op.
        push(g.node(root).op.name(), &mut parts);
    }
    format!("k{index}_{}", parts.join("_"))
}

/// Bytes read and written: the element count times the element size of every buffer argument, summed.
pub(super) fn bytes(buffers: &[(Vec<Expr>, DType)]) -> Expr {
    let sum = buffers
        .iter()
        .fold(c(0), |acc, (dims, dtype)| ix::add(acc, ix::mul(ix::product(dims), c(dtype.size_bytes() as i64))));
    polynomial(&sum).map_or(sum, from_polynomial)
}

/// Floating-point ops executed: every float unary and binary op (comparisons included), times the trip
/// counts of the loops and grid around it. Index arithmetic, loads, selects and casts are free.
pub(super) fn flops(k: &Kernel) -> Expr {
    let grid = ix::product(&k.grid.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>());
    let sum = stmts(k, &k.body, grid);
    polynomial(&sum).map_or(sum, from_polynomial)
}

/// A polynomial in the sizes: coefficient of each monomial (sorted size indices).
type Poly = BTreeMap<Vec<usize>, i64>;

/// `e` as a polynomial, if it is built from constants, sizes, `+`, `-` and `*` only.
fn polynomial(e: &Expr) -> Option<Poly> {
    use crate::kir::BinOp;
    Some(match e {
        Expr::Const { .. } => Poly::from([(vec![], ix::as_const(e)?)]),
        Expr::Size(i) => Poly::from([(vec![*i], 1)]),
        Expr::Binary { op: op @ (BinOp::Add | BinOp::Sub), lhs, rhs } => {
            let (mut p, q) = (polynomial(lhs)?, polynomial(rhs)?);
            let sign = if *op == BinOp::Sub { -1 } else { 1 };
            for (m, k) in q {
                *p.entry(m).or_insert(0) += sign * k;
            }
            p
        }
        Expr::Binary { op: BinOp::Mul, lhs, rhs } => {
            let (p, q) = (polynomial(lhs)?, polynomial(rhs)?);
            let mut r = Poly::new();
            for (m1, k1) in &p {
                for (m2, k2) in &q {
                    let mut m: Vec<usize> = m1.iter().chain(m2).copied().collect();
                    m.sort_unstable();
                    *r.entry(m).or_insert(0) += k1 * k2;
                }
            }
            r
        }
        // Only estimates use polynomials: `min(a, b)` counts as its upper bound `a` (a causal
        // attention row's visible keys, `min(S, i + 1)`, count as `S`).
        Expr::Binary { op: BinOp::Min, lhs, .. } => polynomial(lhs)?,
        _ => return None,
    })
}

/// The polynomial as a sum of `size * size * coefficient` terms, highest degree first.
fn from_polynomial(p: Poly) -> Expr {
    let mut terms: Vec<(Vec<usize>, i64)> = p.into_iter().filter(|(_, k)| *k != 0).collect();
    terms.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
    terms.into_iter().fold(c(0), |acc, (m, k)| {
        let mono = m.into_iter().fold(c(1), |e, i| ix::mul(e, Expr::Size(i)));
        ix::add(acc, ix::mul(mono, c(k)))
    })
}

fn stmts(k: &Kernel, body: &[Stmt], trips: Expr) -> Expr {
    let mut total = c(0);
    for s in body {
        let here = match s {
            Stmt::Let { value, .. } | Stmt::Assign { value, .. } => ix::mul(trips.clone(), c(ops(k, value).0)),
            Stmt::Store { value, index, .. } => ix::mul(trips.clone(), c(ops(k, value).0 + ops(k, index).0)),
            Stmt::SharedStore { value, index, .. } => ix::mul(trips.clone(), c(ops(k, value).0 + ops(k, index).0)),
            Stmt::Loop { extent, body, .. } => stmts(k, body, ix::mul(trips.clone(), extent.clone())),
            // An upper bound: the body counts as if it always ran.
            Stmt::If { cond, body } => {
                ix::add(ix::mul(trips.clone(), c(ops(k, cond).0)), stmts(k, body, trips.clone()))
            }
            Stmt::Barrier => c(0),
        };
        total = ix::add(total, here);
    }
    total
}

/// (float ops in `e`, dtype of `e`).
fn ops(k: &Kernel, e: &Expr) -> (i64, DType) {
    match e {
        Expr::Const { dtype, .. } => (0, *dtype),
        Expr::Cast { dtype, arg } => (ops(k, arg).0, *dtype),
        Expr::Var(_) | Expr::Size(_) => (0, k.dtype_of(e)),
        Expr::Load { buf, index } => (ops(k, index).0, k.buffers[*buf].dtype),
        Expr::SharedLoad { arr, index } => (ops(k, index).0, k.shared[*arr].dtype),
        Expr::Unary { arg, .. } => {
            let (n, t) = ops(k, arg);
            (n + i64::from(t.is_float()), t)
        }
        Expr::Binary { op, lhs, rhs } => {
            let ((a, t), (b, _)) = (ops(k, lhs), ops(k, rhs));
            (a + b + i64::from(t.is_float()), if op.is_comparison() { DType::Bool } else { t })
        }
        Expr::Select { cond, a, b } => {
            let ((x, _), (y, t), (z, _)) = (ops(k, cond), ops(k, a), ops(k, b));
            (x + y + z, t)
        }
    }
}
