//! A rough work estimate for one grid index of a kernel, used only to decide how many threads a launch
//! deserves. A unit is about 0.05 ns here (one node of vectorized elementwise code): each statement and
//! expression node counts one unit, a transcendental (a helper call, about 8 ns) 150, a division 5. A
//! loop multiplies its body by its extent, evaluated with the sizes and with every enclosing index at
//! the middle of its range (so a triangular loop counts half).

use std::collections::HashMap;

use irc_codegen::kir::{BinOp, Expr, Kernel, Stmt, VarId};
use irc_ir::UnaryOp;

/// Units of work per grid index.
pub(super) fn work_per_index(k: &Kernel, sizes: &[i64]) -> f64 {
    let mut mid = HashMap::new();
    for (var, extent) in &k.grid {
        let e = eval(extent, sizes, &mid).unwrap_or(1);
        mid.insert(*var, e / 2);
    }
    stmts(&k.body, sizes, &mut mid).max(1.0)
}

fn stmts(body: &[Stmt], sizes: &[i64], mid: &mut HashMap<VarId, i64>) -> f64 {
    body.iter()
        .map(|s| match s {
            Stmt::Let { value, .. } | Stmt::Assign { value, .. } => 1.0 + nodes(value),
            Stmt::Store { index, value, .. } | Stmt::SharedStore { index, value, .. } => {
                1.0 + nodes(index) + nodes(value)
            }
            Stmt::Loop { var, extent, body } => {
                let n = eval(extent, sizes, mid).unwrap_or(1).max(0);
                mid.insert(*var, n / 2);
                1.0 + n as f64 * stmts(body, sizes, mid)
            }
            Stmt::If { cond, body } => 1.0 + nodes(cond) + stmts(body, sizes, mid),
            Stmt::Barrier => 1.0,
        })
        .sum()
}

/// The weight of an expression's root node.
fn weight(e: &Expr) -> f64 {
    match e {
        Expr::Unary { op: UnaryOp::Exp | UnaryOp::Log | UnaryOp::Sin | UnaryOp::Cos | UnaryOp::Tanh, .. } => 150.0,
        Expr::Binary { op: BinOp::Pow, .. } => 150.0,
        Expr::Binary { op: BinOp::Div | BinOp::Rem, .. } => 5.0,
        _ => 1.0,
    }
}

fn nodes(e: &Expr) -> f64 {
    weight(e)
        + match e {
            Expr::Const { .. } | Expr::Var(_) | Expr::Size(_) => 0.0,
            Expr::Load { index, .. } | Expr::SharedLoad { index, .. } => nodes(index),
            Expr::Unary { arg, .. } | Expr::Cast { arg, .. } => nodes(arg),
            Expr::Binary { lhs, rhs, .. } => nodes(lhs) + nodes(rhs),
            Expr::Select { cond, a, b } => nodes(cond) + nodes(a) + nodes(b),
        }
}

/// The value of an integer expression, or `None` when it needs a load or an unknown variable.
fn eval(e: &Expr, sizes: &[i64], mid: &HashMap<VarId, i64>) -> Option<i64> {
    let ev = |e: &Expr| eval(e, sizes, mid);
    Some(match e {
        Expr::Const { value, .. } => *value as i64,
        Expr::Size(i) => *sizes.get(*i)?,
        Expr::Var(v) => *mid.get(v)?,
        Expr::Unary { op: UnaryOp::Neg, arg } => ev(arg)?.wrapping_neg(),
        Expr::Unary { op: UnaryOp::Abs, arg } => ev(arg)?.wrapping_abs(),
        Expr::Cast { arg, .. } => ev(arg)?,
        Expr::Binary { op, lhs, rhs } => {
            let (a, b) = (ev(lhs)?, ev(rhs)?);
            match op {
                BinOp::Add => a.wrapping_add(b),
                BinOp::Sub => a.wrapping_sub(b),
                BinOp::Mul => a.wrapping_mul(b),
                BinOp::Div => a.checked_div(b)?,
                BinOp::Rem => a.checked_rem(b)?,
                BinOp::Max => a.max(b),
                BinOp::Min => a.min(b),
                BinOp::Lt => (a < b) as i64,
                BinOp::Le => (a <= b) as i64,
                BinOp::Eq => (a == b) as i64,
                BinOp::Ne => (a != b) as i64,
                BinOp::Pow => return None,
            }
        }
        Expr::Select { cond, a, b } => {
            if ev(cond)? != 0 {
                ev(a)?
            } else {
                ev(b)?
            }
        }
        Expr::Unary { .. } | Expr::Load { .. } | Expr::SharedLoad { .. } => return None,
    })
}
