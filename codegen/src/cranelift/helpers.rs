//! Transcendental functions: Rust `extern "C"` functions that generated code calls, registered with the
//! JIT by name. The f32 versions compute in f64 and round once, which is what the reference interpreter
//! does, so results match it except in rare double-rounding cases (at most 1 ulp).

use irc_ir::UnaryOp;

use crate::kir::BinOp;

/// A function generated code calls instead of computing inline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Helper {
    Exp,
    Log,
    Sin,
    Cos,
    Tanh,
    Pow,
    Fmod,
}

macro_rules! helpers {
    ($($helper:ident => $f32:ident, $f64:ident, |$($arg:ident),+| $body:expr;)*) => {
        $(
            extern "C" fn $f32($($arg: f32),+) -> f32 {
                $(let $arg = $arg as f64;)+
                ($body) as f32
            }
            extern "C" fn $f64($($arg: f64),+) -> f64 {
                $body
            }
        )*

        /// Every helper's symbol name and address, for `JITBuilder::symbol`.
        pub(super) fn symbols() -> Vec<(&'static str, *const u8)> {
            vec![$((stringify!($f32), $f32 as *const u8), (stringify!($f64), $f64 as *const u8)),*]
        }

        impl Helper {
            pub(super) const ALL: &[Helper] = &[$(Helper::$helper),*];

            /// The symbols of the f32 and f64 versions.
            pub(super) fn names(self) -> (&'static str, &'static str) {
                match self {
                    $(Helper::$helper => (stringify!($f32), stringify!($f64)),)*
                }
            }

            pub(super) fn arity(self) -> usize {
                match self {
                    $(Helper::$helper => [$(stringify!($arg)),+].len(),)*
                }
            }
        }
    };
}

helpers! {
    Exp => irc_exp_f32, irc_exp_f64, |x| x.exp();
    Log => irc_log_f32, irc_log_f64, |x| x.ln();
    Sin => irc_sin_f32, irc_sin_f64, |x| x.sin();
    Cos => irc_cos_f32, irc_cos_f64, |x| x.cos();
    Tanh => irc_tanh_f32, irc_tanh_f64, |x| x.tanh();
    Pow => irc_pow_f32, irc_pow_f64, |x, y| x.powf(y);
    Fmod => irc_fmod_f32, irc_fmod_f64, |x, y| x % y;
}

/// The helper that computes a float unary op, or `None` when it is compiled inline.
pub(super) fn unary_helper(op: UnaryOp) -> Option<Helper> {
    match op {
        UnaryOp::Exp => Some(Helper::Exp),
        UnaryOp::Log => Some(Helper::Log),
        UnaryOp::Sin => Some(Helper::Sin),
        UnaryOp::Cos => Some(Helper::Cos),
        UnaryOp::Tanh => Some(Helper::Tanh),
        UnaryOp::Neg | UnaryOp::Sqrt | UnaryOp::Recip | UnaryOp::Abs => None,
    }
}

/// The helper that computes a float binary op, or `None` when it is compiled inline.
pub(super) fn binary_helper(op: BinOp) -> Option<Helper> {
    match op {
        BinOp::Pow => Some(Helper::Pow),
        BinOp::Rem => Some(Helper::Fmod),
        _ => None,
    }
}
