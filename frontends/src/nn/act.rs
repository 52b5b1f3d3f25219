//! Activations, and `erf` (no primitive) from a rational approximation.

use std::fmt;
use std::str::FromStr;

use crate::dsl::Var;

/// `sqrt(2 / pi)`, the slope of the tanh GELU approximation.
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;

/// Abramowitz & Stegun 7.1.26: `erf(x) = 1 - (a1 t + .. + a5 t^5) exp(-x^2)`, `t = 1 / (1 + p x)`,
/// for `x >= 0`, with absolute error at most 1.5e-7.
const AS_P: f64 = 0.327_591_1;
const AS_A: [f64; 5] = [0.254_829_592, -0.284_496_736, 1.421_413_741, -1.453_152_027, 1.061_405_429];

/// The error function, `erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt`, by Abramowitz & Stegun
/// 7.1.26 on `|x|` and odd symmetry; absolute error at most 1.5e-7 (before rounding to the dtype).
#[track_caller]
pub fn erf(x: &Var) -> Var {
    let _f = x.builder().frame("erf");
    let ax = x.abs();
    let t = (1.0 + &ax * AS_P).recip();
    // Horner: t * (a1 + t * (a2 + t * (a3 + t * (a4 + t * a5)))).
    let poly = AS_A[..4].iter().rev().fold(&t * AS_A[4], |acc, &a| &t * (acc + a));
    let y = 1.0 - poly * (-ax.square()).exp();
    x.lt(0.0).select(-&y, &y)
}

/// GELU, tanh form (GPT-2): `0.5 x (1 + tanh(u))` with `u = sqrt(2/pi) (x + 0.044715 x^3)`, computed
/// as `x sigmoid(2u)`: the same function (`(1 + tanh u) / 2 = 1 / (1 + e^(-2u))`), with one `exp`
/// instead of a `tanh` (which costs a polynomial and an `exp`), and no cancellation where
/// `tanh u` nears -1.
#[track_caller]
pub fn gelu_tanh(x: &Var) -> Var {
    let _f = x.builder().frame("gelu_tanh");
    let inner = (x + x.square() * x * 0.044715) * (2.0 * SQRT_2_OVER_PI);
    x * inner.sigmoid()
}

/// GELU, exact form: `0.5 x (1 + erf(x / sqrt 2))`, with [`erf`]'s approximation.
#[track_caller]
pub fn gelu_erf(x: &Var) -> Var {
    let _f = x.builder().frame("gelu_erf");
    x * 0.5 * (erf(&(x * std::f64::consts::FRAC_1_SQRT_2)) + 1.0)
}

/// SiLU (swish): `x * sigmoid(x)`.
#[track_caller]
pub fn silu(x: &Var) -> Var {
    x * x.sigmoid()
}

/// `max(x, 0)^2` (Primer).
#[track_caller]
pub fn squared_relu(x: &Var) -> Var {
    x.relu().square()
}

/// A selectable activation for [`mlp`](super::mlp) and the zoo's `act` key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Activation {
    /// [`gelu_tanh`]
    #[default]
    Gelu,
    /// [`gelu_erf`]
    GeluErf,
    Relu,
    /// [`squared_relu`]
    SquaredRelu,
    /// [`silu`]
    Silu,
}

impl Activation {
    pub const ALL: [Activation; 5] =
        [Activation::Gelu, Activation::GeluErf, Activation::Relu, Activation::SquaredRelu, Activation::Silu];

    pub fn name(self) -> &'static str {
        match self {
            Activation::Gelu => "gelu",
            Activation::GeluErf => "gelu_erf",
            Activation::Relu => "relu",
            Activation::SquaredRelu => "squared_relu",
            Activation::Silu => "silu",
        }
    }

    #[track_caller]
    pub fn apply(self, x: &Var) -> Var {
        match self {
            Activation::Gelu => gelu_tanh(x),
            Activation::GeluErf => gelu_erf(x),
            Activation::Relu => x.relu(),
            Activation::SquaredRelu => squared_relu(x),
            Activation::Silu => silu(x),
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Activation {
    type Err = String;
    /// The names of [`Activation::name`], and `relu2` for `squared_relu` (Primer's name).
    fn from_str(s: &str) -> Result<Activation, String> {
        if s == "relu2" {
            return Ok(Activation::SquaredRelu);
        }
        Activation::ALL.into_iter().find(|a| a.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Activation::ALL.iter().map(|a| a.name()).collect();
            format!("unknown activation `{s}` (expected one of {})", names.join(", "))
        })
    }
}
