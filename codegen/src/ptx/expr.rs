//! Expressions: every value is computed into a fresh register of its dtype's class (`types.rs`).
//!
//! Float ops use the IEEE round-to-nearest forms (`add.rn`, `div.rn`, `sqrt.rn`, `rcp.rn`), which also
//! keep ptxas from contracting a multiply and an add into an fma: every op rounds once, as in the
//! evaluator. f16/bf16 results are rounded to their dtype after every op. `max`/`min` propagate NaN.
//! Integer `/` and `%` by 0 give 0 and `MIN / -1` wraps, as in the evaluator.

use irc_ir::{DType, UnaryOp};

use super::PtxError;
use super::entry::Emit;
use super::types::{Class, class, float_imm, mov_type, op_type};
use crate::kir::{BinOp, Expr};

type R = Result<String, PtxError>;

impl Emit<'_> {
    pub fn dtype(&self, e: &Expr) -> DType {
        self.k.dtype_of(e)
    }

    /// The value of `e` in a register (a variable's own register for `Var`: read it, never write it).
    pub fn expr(&mut self, e: &Expr) -> R {
        match e {
            Expr::Const { value, dtype } => Ok(self.constant(*value, *dtype)),
            Expr::Var(v) => Ok(self.vars[v.0 as usize].clone()),
            Expr::Size(i) => Ok(self.sizes[*i].clone()),
            Expr::Load { buf, index } => {
                let i = self.index(index)?;
                Ok(self.load_global(*buf, &i))
            }
            Expr::SharedLoad { arr, index } => {
                let i = self.index(index)?;
                Ok(self.load_shared(*arr, &i))
            }
            Expr::Unary { op, arg } => {
                let t = self.dtype(arg);
                let x = self.expr(arg)?;
                let r = self.unary(*op, t, &x)?;
                Ok(self.round_half(t, r))
            }
            Expr::Binary { op, lhs, rhs } => {
                let (t, u) = (self.dtype(lhs), self.dtype(rhs));
                if t != u {
                    return Err(self.invalid(format!("{} of {t} and {u}", op.name())));
                }
                let x = self.expr(lhs)?;
                let y = self.operand(rhs)?;
                if op.is_comparison() {
                    return self.compare(*op, t, &x, &y);
                }
                let r = self.binary(*op, t, &x, &y, rhs)?;
                Ok(self.round_half(t, r))
            }
            Expr::Select { cond, a, b } => {
                let (t, u) = (self.dtype(a), self.dtype(b));
                if t != u || self.dtype(cond) != DType::Bool {
                    return Err(self.invalid(format!("select of {t} and {u} on {}", self.dtype(cond))));
                }
                let c = self.expr(cond)?;
                let x = self.expr(a)?;
                let y = self.expr(b)?;
                Ok(self.select(t, &c, &x, &y))
            }
            Expr::Cast { dtype, arg } => {
                let from = self.dtype(arg);
                let x = self.expr(arg)?;
                Ok(self.cast(from, *dtype, &x))
            }
        }
    }

    /// The value of `e` as an instruction operand: an immediate for a number constant, else a register.
    /// Only where PTX takes an immediate: the second operand of arithmetic, `setp` and `mov`.
    pub fn operand(&mut self, e: &Expr) -> R {
        match e {
            Expr::Const { value, dtype } if dtype.is_int() => Ok(match dtype {
                DType::I32 => (*value as i64 as i32).to_string(),
                _ => (*value as i64).to_string(),
            }),
            Expr::Const { value, dtype } if dtype.is_float() => Ok(float_imm(*value, *dtype)),
            _ => self.expr(e),
        }
    }

    /// `x` in a register (`x` may be an immediate from [`Emit::operand`]).
    pub fn in_reg(&mut self, t: DType, x: &str) -> String {
        if x.starts_with('%') { x.to_string() } else { self.ins(class(t), &format!("mov.{}", mov_type(t)), &[x]) }
    }

    /// An index (any integer expression) as an s64 register.
    pub fn index(&mut self, e: &Expr) -> R {
        let t = self.dtype(e);
        let x = self.expr(e)?;
        match t {
            DType::I64 => Ok(x),
            DType::I32 | DType::Bool => Ok(self.cast(t, DType::I64, &x)),
            _ => Err(self.invalid(format!("an index of dtype {t}"))),
        }
    }

    /// A fresh register of `dtype` set to `op.type d, args` (`op` without the type).
    pub fn op(&mut self, dtype: DType, op: &str, args: &[&str]) -> String {
        let d = self.a.reg(class(dtype));
        self.a.ins(format!("{op}.{} {d}, {}", op_type(dtype), args.join(", ")));
        d
    }

    /// A fresh register of class `c` set to `ins d, args` (`ins` with its type).
    pub fn ins(&mut self, c: Class, ins: &str, args: &[&str]) -> String {
        let d = self.a.reg(c);
        self.a.ins(format!("{ins} {d}, {}", args.join(", ")));
        d
    }

    pub fn constant(&mut self, value: f64, dtype: DType) -> String {
        match dtype {
            DType::Bool => {
                let p = self.a.reg(Class::Pred);
                self.a.ins(format!("setp.ne.u32 {p}, {}, 0", (value != 0.0) as u32));
                p
            }
            DType::I32 => self.ins(Class::B32, "mov.b32", &[&(value as i64 as i32).to_string()]),
            DType::I64 => self.ins(Class::B64, "mov.b64", &[&(value as i64).to_string()]),
            _ => {
                let imm = float_imm(value, dtype);
                self.ins(class(dtype), &format!("mov.{}", mov_type(dtype)), &[&imm])
            }
        }
    }

    /// An f16/bf16 result (in an f32 register) rounded to its dtype; other dtypes unchanged. Rounding the
    /// f32 result of a basic op again is exact (f32 has more than twice the bits).
    pub fn round_half(&mut self, dtype: DType, x: String) -> String {
        match dtype {
            DType::F16 => {
                let h = self.ins(Class::B16, "cvt.rn.f16.f32", &[&x]);
                self.ins(Class::F32, "cvt.f32.f16", &[&h])
            }
            DType::BF16 => {
                let h = self.ins(Class::B16, "cvt.rn.bf16.f32", &[&x]);
                self.bf16_bits_to_f32(&h)
            }
            _ => x,
        }
    }

    /// bf16 bits to f32 by shifting them into the high half (`cvt.f32.bf16` needs sm_90).
    pub fn bf16_bits_to_f32(&mut self, h: &str) -> String {
        let w = self.ins(Class::B32, "cvt.u32.u16", &[h]);
        let s = self.ins(Class::B32, "shl.b32", &[&w, "16"]);
        self.ins(Class::F32, "mov.b32", &[&s])
    }

    fn unary(&mut self, op: UnaryOp, t: DType, x: &str) -> R {
        if t == DType::Bool || (t.is_int() && !matches!(op, UnaryOp::Neg | UnaryOp::Abs)) {
            return Err(self.unsupported(format!("{} on {t}", op.name())));
        }
        Ok(match op {
            UnaryOp::Neg => self.op(t, "neg", &[x]),
            UnaryOp::Abs => self.op(t, "abs", &[x]),
            UnaryOp::Sqrt => self.op(t, "sqrt.rn", &[x]),
            UnaryOp::Recip => self.op(t, "rcp.rn", &[x]),
            UnaryOp::Exp | UnaryOp::Log | UnaryOp::Sin | UnaryOp::Cos | UnaryOp::Tanh => {
                let d = self.widen(t, x);
                let r = match op {
                    UnaryOp::Exp => self.exp64(&d),
                    UnaryOp::Log => self.log64(&d),
                    UnaryOp::Sin => self.sincos64(&d, false),
                    UnaryOp::Cos => self.sincos64(&d, true),
                    _ => self.tanh64(&d),
                };
                self.narrow(t, &r)
            }
        })
    }

    fn binary(&mut self, op: BinOp, t: DType, x: &str, y: &str, rhs: &Expr) -> R {
        if t == DType::Bool {
            return match op {
                BinOp::Max => Ok(self.ins(Class::Pred, "or.pred", &[x, y])),
                BinOp::Min => Ok(self.ins(Class::Pred, "and.pred", &[x, y])),
                _ => Err(self.unsupported(format!("{} on bool", op.name()))),
            };
        }
        if t.is_int() {
            return Ok(match op {
                BinOp::Add => self.op(t, "add", &[x, y]),
                BinOp::Sub => self.op(t, "sub", &[x, y]),
                BinOp::Mul => self.op(t, "mul.lo", &[x, y]),
                BinOp::Max => self.op(t, "max", &[x, y]),
                BinOp::Min => self.op(t, "min", &[x, y]),
                BinOp::Div | BinOp::Rem => self.int_div(op, t, x, y, rhs),
                _ => return Err(self.unsupported(format!("{} on {t}", op.name()))),
            });
        }
        Ok(match op {
            BinOp::Add => self.op(t, "add.rn", &[x, y]),
            BinOp::Sub => self.op(t, "sub.rn", &[x, y]),
            BinOp::Mul => self.op(t, "mul.rn", &[x, y]),
            BinOp::Div => self.op(t, "div.rn", &[x, y]),
            BinOp::Max | BinOp::Min => self.float_max_min(op == BinOp::Max, t, x, y),
            BinOp::Rem | BinOp::Pow => {
                let y = self.in_reg(t, y);
                let (a, b) = (self.widen(t, x), self.widen(t, &y));
                let r = if op == BinOp::Pow { self.pow64(&a, &b) } else { self.fmod64(&a, &b) };
                self.narrow(t, &r)
            }
            _ => return Err(self.unsupported(format!("{} on {t}", op.name()))),
        })
    }

    /// `max`/`min` that give NaN when either operand is NaN: `max.NaN.f32` (sm_80), and a select for f64,
    /// which has no `.NaN` form.
    fn float_max_min(&mut self, max: bool, t: DType, x: &str, y: &str) -> String {
        let name = if max { "max" } else { "min" };
        if t != DType::F64 {
            return self.op(t, &format!("{name}.NaN"), &[x, y]);
        }
        let m = self.op(t, name, &[x, y]);
        let nan = self.ins(Class::Pred, "setp.nan.f64", &[x, y]);
        let qnan = float_imm(f64::NAN, DType::F64);
        self.ins(Class::F64, "selp.f64", &[&qnan, &m, &nan])
    }

    /// Integer `/` or `%` without traps: the divisor 0 gives 0, and -1 gives `-x` and 0 (wrapping), where
    /// the hardware result is unspecified. A constant divisor other than 0 and -1 needs no guard.
    fn int_div(&mut self, op: BinOp, t: DType, x: &str, y: &str, rhs: &Expr) -> String {
        let name = if op == BinOp::Div { "div" } else { "rem" };
        if matches!(rhs, Expr::Const { value, .. } if *value != 0.0 && *value != -1.0) {
            return self.op(t, name, &[x, y]);
        }
        let y = &self.in_reg(t, y);
        let ty = op_type(t);
        let zero = self.a.reg(Class::Pred);
        self.a.ins(format!("setp.eq.{ty} {zero}, {y}, 0"));
        let minus1 = self.a.reg(Class::Pred);
        self.a.ins(format!("setp.eq.{ty} {minus1}, {y}, -1"));
        let special = self.ins(Class::Pred, "or.pred", &[&zero, &minus1]);
        let safe = self.op(t, "selp", &["1", y, &special]);
        let q = self.op(t, name, &[x, &safe]);
        if op == BinOp::Rem {
            return self.op(t, "selp", &["0", &q, &special]);
        }
        let neg = self.op(t, "neg", &[x]);
        let q = self.op(t, "selp", &[&neg, &q, &minus1]);
        self.op(t, "selp", &["0", &q, &zero])
    }

    /// Comparisons give predicates; float `!=` is the unordered form (true with a NaN), the others are
    /// ordered (false with a NaN), as in the evaluator.
    fn compare(&mut self, op: BinOp, t: DType, x: &str, y: &str) -> R {
        if t == DType::Bool {
            // false < true: compare the bools as 0/1 integers.
            let (a, b) = (self.cast(t, DType::I32, x), self.cast(t, DType::I32, y));
            return self.compare(op, DType::I32, &a, &b);
        }
        let cmp = match (op, t.is_float()) {
            (BinOp::Lt, _) => "lt",
            (BinOp::Le, _) => "le",
            (BinOp::Eq, _) => "eq",
            (BinOp::Ne, true) => "neu",
            (BinOp::Ne, false) => "ne",
            _ => return Err(self.invalid(format!("{} is not a comparison", op.name()))),
        };
        Ok(self.ins(Class::Pred, &format!("setp.{cmp}.{}", op_type(t)), &[x, y]))
    }

    pub fn select(&mut self, t: DType, c: &str, x: &str, y: &str) -> String {
        if t == DType::Bool {
            let not_c = self.ins(Class::Pred, "not.pred", &[c]);
            let a = self.ins(Class::Pred, "and.pred", &[c, x]);
            let b = self.ins(Class::Pred, "and.pred", &[&not_c, y]);
            return self.ins(Class::Pred, "or.pred", &[&a, &b]);
        }
        let ty = match class(t) {
            Class::F32 => "f32",
            Class::F64 => "f64",
            Class::B32 => "b32",
            _ => "b64",
        };
        self.ins(class(t), &format!("selp.{ty}"), &[x, y, c])
    }

    /// A float value as f64 (exact).
    pub fn widen(&mut self, t: DType, x: &str) -> String {
        if t == DType::F64 { x.to_string() } else { self.ins(Class::F64, "cvt.f64.f32", &[x]) }
    }

    /// An f64 value rounded once to float dtype `t`.
    pub fn narrow(&mut self, t: DType, x: &str) -> String {
        match t {
            DType::F64 => x.to_string(),
            DType::F32 => self.ins(Class::F32, "cvt.rn.f32.f64", &[x]),
            _ => {
                let odd = self.round_to_odd(x);
                self.round_half(t, odd)
            }
        }
    }

    /// f64 to f32 rounded to odd (truncated, last bit set when inexact), so that rounding the result to
    /// f16/bf16 gives the correctly rounded value of `x` (no double rounding).
    fn round_to_odd(&mut self, x: &str) -> String {
        let f = self.ins(Class::F32, "cvt.rz.f32.f64", &[x]);
        let back = self.ins(Class::F64, "cvt.f64.f32", &[&f]);
        let inexact = self.ins(Class::Pred, "setp.neu.f64", &[&back, x]);
        let bits = self.ins(Class::B32, "mov.b32", &[&f]);
        let odd = self.ins(Class::B32, "or.b32", &[&bits, "1"]);
        let bits = self.ins(Class::B32, "selp.b32", &[&odd, &bits, &inexact]);
        self.ins(Class::F32, "mov.b32", &[&bits])
    }

    /// `x` of dtype `from` converted to `to` with the evaluator's cast semantics.
    pub fn cast(&mut self, from: DType, to: DType, x: &str) -> String {
        if from == to || (class(from) == class(to) && matches!(from, DType::F16 | DType::BF16) && to == DType::F32) {
            return x.to_string();
        }
        if to == DType::Bool {
            let cmp = if from.is_float() { "neu" } else { "ne" };
            let zero = if from.is_float() { float_imm(0.0, from) } else { "0".into() };
            return self.ins(Class::Pred, &format!("setp.{cmp}.{}", op_type(from)), &[x, &zero]);
        }
        if from == DType::Bool {
            let (one, zero) = if to.is_float() {
                (float_imm(1.0, to), float_imm(0.0, to))
            } else {
                ("1".to_string(), "0".to_string())
            };
            return self.select(to, x, &one, &zero);
        }
        match (from.is_float(), to.is_float()) {
            // Truncate toward zero; PTX saturates and gives 0 for NaN, as the evaluator does.
            (true, false) => self.ins(class(to), &format!("cvt.rzi.{}.{}", op_type(to), op_type(from)), &[x]),
            // Sign-extend or wrap.
            (false, false) => self.ins(class(to), &format!("cvt.{}.{}", op_type(to), op_type(from)), &[x]),
            (false, true) => match to {
                DType::F32 | DType::F64 => {
                    self.ins(class(to), &format!("cvt.rn.{}.{}", op_type(to), op_type(from)), &[x])
                }
                _ => {
                    let d = self.ins(Class::F64, &format!("cvt.rn.f64.{}", op_type(from)), &[x]);
                    self.narrow(to, &d)
                }
            },
            (true, true) => match (from, to) {
                (DType::F64, _) => self.narrow(to, x),
                (_, DType::F64) => self.widen(from, x),
                // f32 (or a half, exact in f32) to a half.
                _ => self.round_half(to, x.to_string()),
            },
        }
    }
}
