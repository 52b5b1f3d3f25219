//! Accumulators for ops that combine many elements (reductions, prefix sums, matmul, scatter-add):
//! floats accumulate in f64 and round once at the end; integers accumulate exactly in i64 with
//! two's-complement wrapping and are wrapped to the dtype at the end.

use irc_ir::DType;

use super::elementwise::{from_int, max_nan, to_int};

pub(super) trait Acc: Copy {
    fn load(v: f64) -> Self;
    fn zero() -> Self;
    /// The identity of max: -inf for floats, the smallest integer for integers.
    fn lowest(dtype: DType) -> Self;
    fn add(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    fn max(self, o: Self) -> Self;
    /// The final value as stored in a tensor of `dtype` (before `Tensor::new` rounds floats).
    fn store(self, dtype: DType) -> f64;
}

impl Acc for f64 {
    fn load(v: f64) -> f64 {
        v
    }
    fn zero() -> f64 {
        0.0
    }
    fn lowest(_: DType) -> f64 {
        f64::NEG_INFINITY
    }
    fn add(self, o: f64) -> f64 {
        self + o
    }
    fn mul(self, o: f64) -> f64 {
        self * o
    }
    fn max(self, o: f64) -> f64 {
        max_nan(self, o)
    }
    fn store(self, _: DType) -> f64 {
        self
    }
}

impl Acc for i64 {
    fn load(v: f64) -> i64 {
        to_int(v)
    }
    fn zero() -> i64 {
        0
    }
    fn lowest(dtype: DType) -> i64 {
        if dtype == DType::I32 { i32::MIN as i64 } else { i64::MIN }
    }
    fn add(self, o: i64) -> i64 {
        self.wrapping_add(o)
    }
    fn mul(self, o: i64) -> i64 {
        self.wrapping_mul(o)
    }
    fn max(self, o: i64) -> i64 {
        Ord::max(self, o)
    }
    fn store(self, dtype: DType) -> f64 {
        from_int(dtype, self)
    }
}

/// Calls `$f::<i64>` for integer dtypes and `$f::<f64>` otherwise.
macro_rules! by_acc {
    ($dtype:expr, $f:ident ( $($arg:expr),* $(,)? )) => {
        if $dtype.is_int() { $f::<i64>($($arg),*) } else { $f::<f64>($($arg),*) }
    };
}
pub(super) use by_acc;
