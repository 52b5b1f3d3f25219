//! Facts about `i64` index expressions that code generators and schedules rely on: how an index moves
//! with a loop variable, and whether it is a multiple of a constant.

use irc_ir::{DType, UnaryOp};

use super::{BinOp, Expr, VarId};

/// The coefficient of `var` in the i64 expression `e` when `e` is `var * c + (the same in all
/// iterations)`; `None` when it is not of that form. Variables for which `is_local` holds (defined inside
/// the loop) are not the same in all iterations.
pub fn stride(var: VarId, is_local: &dyn Fn(VarId) -> bool, e: &Expr) -> Option<i64> {
    let s = |e: &Expr| stride(var, is_local, e);
    let invariant = |parts: &[&Expr]| parts.iter().all(|p| s(p) == Some(0)).then_some(0);
    match e {
        Expr::Var(u) if *u == var => Some(1),
        Expr::Var(u) if is_local(*u) => None,
        Expr::Var(_) | Expr::Const { .. } | Expr::Size(_) => Some(0),
        Expr::Load { index, .. } | Expr::SharedLoad { index, .. } => invariant(&[index]),
        Expr::Binary { op: BinOp::Add, lhs, rhs } => s(lhs)?.checked_add(s(rhs)?),
        Expr::Binary { op: BinOp::Sub, lhs, rhs } => s(lhs)?.checked_sub(s(rhs)?),
        Expr::Binary { op: BinOp::Mul, lhs, rhs } => match (s(lhs)?, s(rhs)?, constant(lhs), constant(rhs)) {
            (0, 0, _, _) => Some(0),
            (a, 0, _, Some(c)) => a.checked_mul(c),
            (0, b, Some(c), _) => b.checked_mul(c),
            _ => None,
        },
        Expr::Binary { lhs, rhs, .. } => invariant(&[lhs, rhs]),
        Expr::Unary { op: UnaryOp::Neg, arg } => s(arg)?.checked_neg(),
        Expr::Unary { arg, .. } | Expr::Cast { arg, .. } => invariant(&[arg]),
        Expr::Select { cond, a, b } => invariant(&[cond, a, b]),
    }
}

/// Whether the i64 expression `e` is a multiple of `m` whatever its variables and sizes are.
pub fn multiple_of(e: &Expr, m: i64) -> bool {
    match e {
        Expr::Const { .. } => constant(e).is_some_and(|c| c % m == 0),
        Expr::Binary { op: BinOp::Mul, lhs, rhs } => multiple_of(lhs, m) || multiple_of(rhs, m),
        Expr::Binary { op: BinOp::Add | BinOp::Sub | BinOp::Min | BinOp::Max, lhs, rhs } => {
            multiple_of(lhs, m) && multiple_of(rhs, m)
        }
        Expr::Unary { op: UnaryOp::Neg, arg } => multiple_of(arg, m),
        _ => false,
    }
}

fn constant(e: &Expr) -> Option<i64> {
    match e {
        Expr::Const { value, dtype: DType::I64 } => Some(*value as i64),
        _ => None,
    }
}
