//! Element types.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The element type of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    F32,
    F16,
    BF16,
    /// Double precision, for reference computations and gradient checks.
    F64,
    I32,
    I64,
    Bool,
}

impl DType {
    pub const ALL: [DType; 7] = [DType::F32, DType::F16, DType::BF16, DType::F64, DType::I32, DType::I64, DType::Bool];

    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::F64 => "f64",
            DType::I32 => "i32",
            DType::I64 => "i64",
            DType::Bool => "bool",
        }
    }

    /// Bytes one element takes in memory.
    pub fn size_bytes(self) -> usize {
        match self {
            DType::F16 | DType::BF16 => 2,
            DType::F32 | DType::I32 => 4,
            DType::F64 | DType::I64 => 8,
            DType::Bool => 1,
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F16 | DType::BF16 | DType::F64)
    }

    pub fn is_int(self) -> bool {
        matches!(self, DType::I32 | DType::I64)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        DType::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| format!("unknown dtype `{s}` (expected one of f32, f16, bf16, f64, i32, i64, bool)"))
    }
}

/// Rounds `v` to the nearest value of `dtype`: floats to nearest-even (f16 and bf16 correctly, through an
/// f32 rounded to odd so there is no double rounding); integers truncate toward zero and wrap; bool is
/// `v != 0`. Every component that stores values of a dtype (interpreter, kernel evaluator) rounds with this.
#[inline]
pub fn round_to(dtype: DType, v: f64) -> f64 {
    match dtype {
        DType::F64 => v,
        DType::F32 => v as f32 as f64,
        DType::F16 => half::f16::from_f32(f32_round_odd(v)).to_f64(),
        DType::BF16 => half::bf16::from_f32(f32_round_odd(v)).to_f64(),
        DType::I32 => (v as i64) as i32 as f64,
        DType::I64 => v as i64 as f64,
        DType::Bool => (v != 0.0) as u8 as f64,
    }
}

/// `max` as every backend computes it: NaN when either operand is NaN, and -0 below +0 (IEEE 754-2019
/// `maximum`; Rust's `f64::max` leaves the sign of a zero result open).
#[inline]
pub fn fmax(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == b {
        if a.is_sign_negative() { b } else { a }
    } else if a > b {
        a
    } else {
        b
    }
}

/// `min` as every backend computes it: NaN when either operand is NaN, and -0 below +0.
#[inline]
pub fn fmin(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == b {
        if a.is_sign_negative() { a } else { b }
    } else if a < b {
        a
    } else {
        b
    }
}

/// `v` as f32 rounded to odd: truncated toward zero, with the last bit set when inexact. Rounding this to a
/// narrower format (f16, bf16) gives the correctly rounded result of `v` itself.
fn f32_round_odd(v: f64) -> f32 {
    let f = v as f32;
    if !f.is_finite() || f as f64 == v {
        return f;
    }
    let mut bits = f.to_bits();
    if (f as f64).abs() > v.abs() {
        bits -= 1; // one step toward zero: the truncated value
    }
    f32::from_bits(bits | 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_rounding_has_no_double_rounding() {
        // 1 + 2^-11 + 2^-40 is just above the f16 halfway point between 1 and 1 + 2^-10: it must round up,
        // though rounding to f32 first would land exactly on the halfway point and round to even (down).
        let v = 1.0 + 2f64.powi(-11) + 2f64.powi(-40);
        assert_eq!(round_to(DType::F16, v), 1.0 + 2f64.powi(-10));
        assert_eq!(round_to(DType::F16, 1.0 + 2f64.powi(-11)), 1.0);
        let w = 1.0 + 2f64.powi(-8) + 2f64.powi(-40);
        assert_eq!(round_to(DType::BF16, w), 1.0 + 2f64.powi(-7));
        assert_eq!(round_to(DType::F16, -v), -(1.0 + 2f64.powi(-10)));
        assert!(round_to(DType::F16, 1e9).is_infinite());
        assert_eq!(round_to(DType::I32, 2f64.powi(31)), -(2f64.powi(31)));
    }

    #[test]
    fn max_and_min_order_negative_zero_below_positive_zero_and_propagate_nan() {
        for (a, b) in [(0.0, -0.0), (-0.0, 0.0)] {
            assert!(fmax(a, b) == 0.0 && fmax(a, b).is_sign_positive());
            assert!(fmin(a, b) == 0.0 && fmin(a, b).is_sign_negative());
        }
        assert!(fmax(f64::NAN, 1.0).is_nan() && fmin(1.0, f64::NAN).is_nan());
        assert_eq!((fmax(-1.0, 2.0), fmin(-1.0, 2.0)), (2.0, -1.0));
        assert_eq!(fmax(f64::NEG_INFINITY, -3.0), -3.0);
    }
}
