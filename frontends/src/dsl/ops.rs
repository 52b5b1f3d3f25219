//! Elementwise binary ops with numpy broadcasting and scalar operands, and the operator overloads.

use std::ops::{Add, Div, Mul, Neg, Sub};

use irc_ir::{BinaryOp, DType, Op, broadcast_shapes};

use super::var::Var;

/// One side of an elementwise op: a tensor, or a scalar that takes the other side's dtype.
#[derive(Clone, Debug)]
pub enum Operand {
    Var(Var),
    Scalar(f64),
}

impl From<&Var> for Operand {
    fn from(v: &Var) -> Operand {
        Operand::Var(v.clone())
    }
}

impl From<Var> for Operand {
    fn from(v: Var) -> Operand {
        Operand::Var(v)
    }
}

impl From<f64> for Operand {
    fn from(v: f64) -> Operand {
        Operand::Scalar(v)
    }
}

impl From<f32> for Operand {
    fn from(v: f32) -> Operand {
        Operand::Scalar(v as f64)
    }
}

impl From<i32> for Operand {
    fn from(v: i32) -> Operand {
        Operand::Scalar(v as f64)
    }
}

impl Operand {
    /// The operand as a tensor: a scalar becomes a constant of `like`'s dtype and shape.
    #[track_caller]
    fn lift(self, like: &Var, dtype: DType) -> Var {
        match self {
            Operand::Var(v) => v,
            Operand::Scalar(value) => like.builder().full(value, dtype, like.shape()),
        }
    }
}

/// Broadcasts `vars` (same dtype) to one shape, numpy style, expanding those that differ.
#[track_caller]
fn broadcast_all(name: &str, vars: &[&Var]) -> Result<Vec<Var>, Var> {
    let b = vars[0].builder();
    if let Some(p) = b.guard(name, vars) {
        return Err(p);
    }
    let mut shape = vars[0].shape().clone();
    for v in &vars[1..] {
        shape = broadcast_shapes(&shape, v.shape()).map_err(|msg| b.fail(name, msg, vars))?;
    }
    Ok(vars.iter().map(|v| v.expand(&shape)).collect())
}

/// The tensor operands of an elementwise op, scalars lifted to the tensors' dtype and shape.
/// `Err` carries the poisoned result when there is no tensor or the dtypes differ.
#[track_caller]
fn tensors(name: &str, ops: Vec<Operand>, skip_dtype: usize) -> Result<Vec<Var>, Var> {
    let vars: Vec<&Var> = ops.iter().filter_map(|o| if let Operand::Var(v) = o { Some(v) } else { None }).collect();
    // Every public entry point has a tensor operand (the receiver), so `vars` is never empty.
    let first = vars[0];
    let b = first.builder().clone();
    if let Some(p) = b.guard(name, &vars) {
        return Err(p);
    }
    // Operand `skip_dtype` (a select condition) is allowed its own dtype.
    let typed: Vec<&Var> = ops
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != skip_dtype)
        .filter_map(|(_, o)| if let Operand::Var(v) = o { Some(v) } else { None })
        .collect();
    let Some(dtype) = typed.first().map(|v| v.dtype()) else {
        return Err(b.fail(name, "needs at least one tensor value besides the condition", &vars));
    };
    if let Some(other) = typed.iter().find(|v| v.dtype() != dtype) {
        let msg = format!("dtypes differ: {dtype} vs {} (cast one explicitly)", other.dtype());
        return Err(b.fail(name, msg, &vars));
    }
    let like = typed[0].clone();
    Ok(ops.into_iter().map(|o| o.lift(&like, dtype)).collect())
}

/// `lhs op rhs` with numpy broadcasting; at least one side is a tensor.
#[track_caller]
pub(crate) fn binary(op: BinaryOp, lhs: Operand, rhs: Operand) -> Var {
    let name = op.name();
    let parts = tensors(name, vec![lhs, rhs], usize::MAX).and_then(|t| broadcast_all(name, &[&t[0], &t[1]]));
    match parts {
        Ok(p) => p[0].builder().push(name, Op::Binary { op }, &[&p[0], &p[1]]),
        Err(poisoned) => poisoned,
    }
}

#[track_caller]
pub(crate) fn select(cond: &Var, a: Operand, b: Operand) -> Var {
    let parts = tensors("select", vec![Operand::Var(cond.clone()), a, b], 0)
        .and_then(|t| broadcast_all("select", &[&t[0], &t[1], &t[2]]));
    match parts {
        Ok(p) => p[0].builder().push("select", Op::Select, &[&p[0], &p[1], &p[2]]),
        Err(poisoned) => poisoned,
    }
}

/// `where_(cond, a, b)`: numpy's `where`, the same as `cond.select(a, b)`.
#[track_caller]
pub fn where_(cond: &Var, a: impl Into<Operand>, b: impl Into<Operand>) -> Var {
    select(cond, a.into(), b.into())
}

/// Elementwise binary methods taking a tensor or a scalar: `x.max(0.0)`, `x.lt(&y)`.
impl Var {
    #[track_caller]
    pub fn max(&self, other: impl Into<Operand>) -> Var {
        binary(BinaryOp::Max, self.into(), other.into())
    }

    #[track_caller]
    pub fn min(&self, other: impl Into<Operand>) -> Var {
        binary(BinaryOp::Min, self.into(), other.into())
    }

    /// `x ^ p` elementwise (floats only).
    #[track_caller]
    pub fn pow(&self, p: impl Into<Operand>) -> Var {
        binary(BinaryOp::Pow, self.into(), p.into())
    }

    #[track_caller]
    pub fn lt(&self, other: impl Into<Operand>) -> Var {
        binary(BinaryOp::Lt, self.into(), other.into())
    }

    #[track_caller]
    pub fn le(&self, other: impl Into<Operand>) -> Var {
        binary(BinaryOp::Le, self.into(), other.into())
    }

    /// `x > y`, as `y < x`.
    #[track_caller]
    pub fn gt(&self, other: impl Into<Operand>) -> Var {
        binary(BinaryOp::Lt, other.into(), self.into())
    }

    /// `x >= y`, as `y <= x`.
    #[track_caller]
    pub fn ge(&self, other: impl Into<Operand>) -> Var {
        binary(BinaryOp::Le, other.into(), self.into())
    }

    #[track_caller]
    pub fn eq(&self, other: impl Into<Operand>) -> Var {
        binary(BinaryOp::Eq, self.into(), other.into())
    }

    #[track_caller]
    pub fn ne(&self, other: impl Into<Operand>) -> Var {
        binary(BinaryOp::Ne, self.into(), other.into())
    }
}

/// Implements `Trait` for every combination of `Var`, `&Var` and scalar operands.
macro_rules! binary_operator {
    ($trait:ident, $method:ident, $op:expr) => {
        binary_operator!(@pair $trait, $method, $op, &Var, &Var);
        binary_operator!(@pair $trait, $method, $op, &Var, Var);
        binary_operator!(@pair $trait, $method, $op, Var, &Var);
        binary_operator!(@pair $trait, $method, $op, Var, Var);
        binary_operator!(@scalar $trait, $method, $op, f64);
        binary_operator!(@scalar $trait, $method, $op, i32);
    };
    (@scalar $trait:ident, $method:ident, $op:expr, $s:ty) => {
        binary_operator!(@pair $trait, $method, $op, &Var, $s);
        binary_operator!(@pair $trait, $method, $op, Var, $s);
        binary_operator!(@pair $trait, $method, $op, $s, &Var);
        binary_operator!(@pair $trait, $method, $op, $s, Var);
    };
    (@pair $trait:ident, $method:ident, $op:expr, $l:ty, $r:ty) => {
        impl $trait<$r> for $l {
            type Output = Var;
            #[track_caller]
            fn $method(self, rhs: $r) -> Var {
                binary($op, self.into(), rhs.into())
            }
        }
    };
}

binary_operator!(Add, add, BinaryOp::Add);
binary_operator!(Sub, sub, BinaryOp::Sub);
binary_operator!(Mul, mul, BinaryOp::Mul);
binary_operator!(Div, div, BinaryOp::Div);

impl Neg for &Var {
    type Output = Var;
    #[track_caller]
    fn neg(self) -> Var {
        Var::neg(self)
    }
}

impl Neg for Var {
    type Output = Var;
    #[track_caller]
    fn neg(self) -> Var {
        Var::neg(&self)
    }
}
