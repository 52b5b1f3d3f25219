//! Elementwise ops. Floats are computed in f64 and rounded once to the dtype. Integers are computed
//! in i64 with two's-complement wrapping and then wrapped to the dtype, because an f64 cannot hold
//! e.g. the exact product of two large i32s, so "compute in f64, then wrap" would lose low bits.

use irc_ir::{BinaryOp, DType, UnaryOp};

use super::RunError;
use crate::{Tensor, round_to};

/// An integer value of a tensor (exact: tensors hold values already rounded to their dtype).
pub(super) fn to_int(v: f64) -> i64 {
    v as i64
}

/// `x` wrapped (integers) or rounded (floats, bool) to `dtype`.
pub(super) fn from_int(dtype: DType, x: i64) -> f64 {
    match dtype {
        DType::I32 => x as i32 as f64,
        _ => round_to(dtype, x as f64),
    }
}

/// NaN-propagating max and min with -0 below +0 ([`irc_ir::fmax`]; f64's own `max` drops NaN).
pub(super) fn max_nan(a: f64, b: f64) -> f64 {
    irc_ir::fmax(a, b)
}

fn min_nan(a: f64, b: f64) -> f64 {
    irc_ir::fmin(a, b)
}

fn map(x: &Tensor, dtype: DType, f: impl Fn(f64) -> f64) -> Tensor {
    Tensor::new(dtype, x.shape.clone(), x.data.iter().map(|&v| f(v)).collect())
}

pub(super) fn unary(op: UnaryOp, x: &Tensor) -> Tensor {
    if x.dtype.is_int() {
        // Type inference allows only neg and abs on integers.
        let f: fn(i64) -> i64 = match op {
            UnaryOp::Neg => i64::wrapping_neg,
            UnaryOp::Abs => i64::wrapping_abs,
            _ => unreachable!("{} on an integer tensor passed type inference", op.name()),
        };
        return map(x, x.dtype, |v| from_int(x.dtype, f(to_int(v))));
    }
    let f: fn(f64) -> f64 = match op {
        UnaryOp::Neg => |v| -v,
        UnaryOp::Exp => f64::exp,
        UnaryOp::Log => f64::ln,
        UnaryOp::Sqrt => f64::sqrt,
        UnaryOp::Recip => f64::recip,
        UnaryOp::Sin => f64::sin,
        UnaryOp::Cos => f64::cos,
        UnaryOp::Tanh => f64::tanh,
        UnaryOp::Abs => f64::abs,
    };
    map(x, x.dtype, f)
}

/// One element converted from `from` to `to`. Float to integer truncates toward zero and saturates
/// at the integer range (NaN gives 0), as Rust's `as`, PTX `cvt.rzi` and WGSL conversions do;
/// integer to narrower integer wraps; anything to bool is `!= 0`.
pub(super) fn cast_value(from: DType, to: DType, v: f64) -> f64 {
    match to {
        DType::I32 if from.is_float() => v as i32 as f64,
        DType::I64 if from.is_float() => v as i64 as f64,
        _ => round_to(to, v),
    }
}

pub(super) fn cast(x: &Tensor, to: DType) -> Tensor {
    map(x, to, |v| cast_value(x.dtype, to, v))
}

fn compare(op: BinaryOp, a: f64, b: f64) -> bool {
    match op {
        BinaryOp::Lt => a < b,
        BinaryOp::Le => a <= b,
        BinaryOp::Eq => a == b,
        BinaryOp::Ne => a != b,
        _ => unreachable!("{} is not a comparison", op.name()),
    }
}

fn float_binary(op: BinaryOp, a: f64, b: f64) -> f64 {
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Max => max_nan(a, b),
        BinaryOp::Min => min_nan(a, b),
        BinaryOp::Pow => a.powf(b),
        _ => unreachable!("{} is a comparison", op.name()),
    }
}

/// `None` for division by zero. Division truncates toward zero; `MIN / -1` wraps to `MIN`.
fn int_binary(op: BinaryOp, a: i64, b: i64) -> Option<i64> {
    Some(match op {
        BinaryOp::Add => a.wrapping_add(b),
        BinaryOp::Sub => a.wrapping_sub(b),
        BinaryOp::Mul => a.wrapping_mul(b),
        BinaryOp::Div if b == 0 => return None,
        BinaryOp::Div => a.wrapping_div(b),
        BinaryOp::Max => a.max(b),
        BinaryOp::Min => a.min(b),
        _ => unreachable!("{} on integers passed type inference", op.name()),
    })
}

/// Both operands have the same dtype and shape (type inference demands it).
pub(super) fn binary(op: BinaryOp, a: &Tensor, b: &Tensor, at: &str) -> Result<Tensor, RunError> {
    debug_assert_eq!(a.shape, b.shape);
    let pairs = a.data.iter().zip(&b.data).map(|(&x, &y)| (x, y));
    if op.is_comparison() {
        let data = pairs.map(|(x, y)| compare(op, x, y) as u8 as f64).collect();
        return Ok(Tensor::new(DType::Bool, a.shape.clone(), data));
    }
    let data = if a.dtype.is_int() {
        pairs
            .map(|(x, y)| int_binary(op, to_int(x), to_int(y)).map(|r| from_int(a.dtype, r)))
            .collect::<Option<Vec<f64>>>()
            .ok_or_else(|| RunError::DivisionByZero { at: at.into() })?
    } else {
        pairs.map(|(x, y)| float_binary(op, x, y)).collect()
    };
    Ok(Tensor::new(a.dtype, a.shape.clone(), data))
}

pub(super) fn select(cond: &Tensor, a: &Tensor, b: &Tensor) -> Tensor {
    debug_assert!(cond.shape == a.shape && a.shape == b.shape);
    let data = cond.data.iter().zip(a.data.iter().zip(&b.data)).map(|(&c, (&x, &y))| if c != 0.0 { x } else { y });
    Tensor::new(a.dtype, a.shape.clone(), data.collect())
}
