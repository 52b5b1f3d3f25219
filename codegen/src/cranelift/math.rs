//! Inline f32 `exp`, `log` and `tanh`, emitted as Cranelift instructions for scalar f32 and f32x4 alike
//! (the same instruction sequence, so vector lanes give the scalar code's bits). A call to a Rust helper
//! costs about 8 ns and forces vector loops to go lane by lane; these cost a few ns per four lanes.
//! f64 (the reference-precision path) and f16/bf16 (which round the f32 result again) keep the exact
//! helpers. Errors against the f64 functions: `codegen/tests/cranelift_math.rs`, docs/CPU.md.
//!
//! With `fma` (set when `CompileOptions::contract` is on and the host has FMA), the polynomial steps and
//! the Cody-Waite reduction are fused multiply-adds: fewer instructions, one rounding per step. Without
//! it (the exact options) they are a multiply and an add, independent of the host's features.

use crate::kir::Expr;
use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{Endianness, InstBuilder, MemFlagsData, Type, Value, types};
use cranelift_frontend::FunctionBuilder;
use irc_ir::UnaryOp;

/// exp's input is clamped to this range: below it the result rounds to 0, above it overflows, and inside
/// it `n = round(x / ln 2)` lies in [-150, 128], so 2^n splits into two normal-range factors.
const EXP_MIN: f32 = -104.0;
const EXP_MAX: f32 = 88.8;
const LOG2E: f32 = std::f32::consts::LOG2_E;
/// ln 2 = LN2_HI + LN2_LO (Cody-Waite): LN2_HI has 9 significant bits, so `n * LN2_HI` is exact for
/// |n| <= 2^15 and `x - n * LN2_HI` loses nothing.
const LN2_HI: f32 = 0.693_359_4; // 0x3f31_8000 = 355 / 512
const LN2_LO: f32 = -2.121_944_4e-4;
/// Adding 1.5 * 2^23 rounds an f32 of magnitude below 2^22 to the nearest integer (ties to even), which
/// then sits in the low mantissa bits.
const ROUND_MAGIC: f32 = 12_582_912.0;
/// e^r = 1 + r + r^2 * P(r) on [-ln2/2, ln2/2], P in Horner order, highest degree first (Cephes `expf`,
/// written as the f32 values they round to).
const EXP_P: [f32; 6] = [1.987_569_1e-4, 1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 1.666_666_5e-1, 0.5];

/// The fused form's `2 e^r` on [-ln2/2, ln2/2] (a minimax fit of e^r with the first two coefficients fixed
/// at 1, relative error 5.6e-9 once rounded to f32, doubled exactly), lowest degree first.
const EXP2X_C: [f32; 7] = [2.0, 2.0, 9.999_999_4e-1, 3.333_301_2e-1, 8.333_418_5e-2, 1.674_061e-2, 2.778_681_7e-3];
/// The fused form clamps x to [EXP_FLUSH, EXP_MAX]: there `n = round(x log2 e)` lies in [-126, 128] and
/// its scale `2^(n-1)` is normal from n = -125 up; n = -126 gives the scale 0, so results below about
/// 2^-125.5 (1.67e-38) flush to 0.
const EXP_FLUSH: f32 = -87.6;

/// Below this |x|, tanh is the odd polynomial x + x^3 * Q(x^2); above, 1 - 2 / (e^(2|x|) + 1), whose
/// cancellation is mild once tanh |x| > 0.55.
const TANH_SMALL: f32 = 0.625;
/// Q in Horner order, highest degree first (Cephes `tanhf`).
const TANH_Q: [f32; 5] = [-5.704_988_7e-3, 2.063_909e-2, -5.373_971_6e-2, 1.333_144_2e-1, -3.333_328e-1];

/// log x = e ln 2 + log m with x = 2^e m, m in [sqrt(1/2), sqrt(2)); log(1 + f) = f - f^2/2 + f^3 * L(f)
/// with L in Horner order, highest degree first (Cephes `logf`).
const LOG_L: [f32; 9] = [
    7.037_683_6e-2,
    -1.151_461e-1,
    1.167_699_9e-1,
    -1.242_014_1e-1,
    1.424_932_3e-1,
    -1.666_805_8e-1,
    2.000_071_5e-1,
    -2.499_999_4e-1,
    3.333_333e-1,
];
/// Subnormal inputs are scaled by 2^SUBNORMAL_SHIFT into the normal range first.
const SUBNORMAL_SHIFT: i32 = 23;

const SIGN_BIT: i32 = i32::MIN;
const MANTISSA_MASK: i32 = 0x007f_ffff;
const F32_BIAS: i32 = 127;
const F32_MANTISSA_BITS: i64 = 23;

/// The inline version of `op` on `x` (an f32 or f32x4 value), or `None` when `op` is not done inline.
pub(super) fn unary(b: &mut FunctionBuilder, op: UnaryOp, x: Value, fma: bool) -> Option<Value> {
    let ty = b.func.dfg.value_type(x);
    if ty != types::F32 && ty != types::F32X4 {
        return None;
    }
    let mut m = Math { b, ty, fma };
    match op {
        UnaryOp::Exp => Some(m.exp(x)),
        UnaryOp::Tanh => Some(m.tanh(x)),
        UnaryOp::Log => Some(m.log(x)),
        _ => None,
    }
}

/// With fused multiply-adds, `exp(-x)` is emitted as one function of `x` (no negation: the constants
/// absorb the sign, with the same bits as negating first): the argument of such an `exp`.
pub(super) fn negated_exp_arg(op: UnaryOp, arg: &Expr, fma: bool) -> Option<&Expr> {
    match arg {
        Expr::Unary { op: UnaryOp::Neg, arg } if fma && op == UnaryOp::Exp => Some(arg),
        _ => None,
    }
}

/// `exp(-x)` for an f32 or f32x4 `x` in the fused form (see `negated_exp_arg`).
pub(super) fn exp_of_neg(b: &mut FunctionBuilder, x: Value) -> Value {
    let ty = b.func.dfg.value_type(x);
    Math { b, ty, fma: true }.exp_fused(x, -1.0)
}

/// Emits code for one value type: `F32` or `F32X4` (constants are splatted for vectors).
struct Math<'a, 'f> {
    b: &'a mut FunctionBuilder<'f>,
    ty: Type,
    /// Fuse `a * b + c` into one instruction.
    fma: bool,
}

impl Math<'_, '_> {
    fn vector(&self) -> bool {
        self.ty.is_vector()
    }

    fn int_ty(&self) -> Type {
        if self.vector() { types::I32X4 } else { types::I32 }
    }

    fn f(&mut self, c: f32) -> Value {
        let s = self.b.ins().f32const(c);
        if self.vector() { self.b.ins().splat(self.ty, s) } else { s }
    }

    fn i(&mut self, c: i32) -> Value {
        let s = self.b.ins().iconst(types::I32, c as u32 as i64);
        if self.vector() { self.b.ins().splat(types::I32X4, s) } else { s }
    }

    fn bits_of(&mut self, x: Value) -> Value {
        let little = MemFlagsData::new().with_endianness(Endianness::Little);
        let ty = self.int_ty();
        self.b.ins().bitcast(ty, little, x)
    }

    fn float_of(&mut self, x: Value) -> Value {
        let little = MemFlagsData::new().with_endianness(Endianness::Little);
        self.b.ins().bitcast(self.ty, little, x)
    }

    /// `cc(x, y) ? a : b` lane by lane (a NaN comparison is false, picking `b`).
    fn select(&mut self, cc: FloatCC, x: Value, y: Value, a: Value, b: Value) -> Value {
        let c = self.b.ins().fcmp(cc, x, y);
        if self.vector() {
            let mask = self.float_of(c);
            self.b.ins().bitselect(mask, a, b)
        } else {
            self.b.ins().select(c, a, b)
        }
    }

    /// `a * b + c`, fused when `fma` is set.
    fn mul_add(&mut self, a: Value, b: Value, c: Value) -> Value {
        if self.fma {
            self.b.ins().fma(a, b, c)
        } else {
            let ab = self.b.ins().fmul(a, b);
            self.b.ins().fadd(ab, c)
        }
    }

    /// `coeffs[0] * x^(n-1) + ... + coeffs[n-1]`, by Horner's rule.
    fn horner(&mut self, x: Value, coeffs: &[f32]) -> Value {
        let mut p = self.f(coeffs[0]);
        for &c in &coeffs[1..] {
            let c = self.f(c);
            p = self.mul_add(p, x, c);
        }
        p
    }

    /// 2^n for an integer `n` in [-126, 127], built in the exponent bits (bits of `n` above the low 9
    /// shift out: `n + k * 512` gives the same result).
    fn pow2(&mut self, n: Value) -> Value {
        let bias = self.i(F32_BIAS);
        let e = self.b.ins().iadd(n, bias);
        let bits = self.b.ins().ishl_imm_u(e, F32_MANTISSA_BITS);
        self.float_of(bits)
    }

    /// e^x = 2^n * e^r with x = n ln 2 + r, |r| <= ln2/2 (a little more where x * log2 e rounds up).
    fn exp(&mut self, x: Value) -> Value {
        if self.fma {
            return self.exp_fused(x, 1.0);
        }
        // Clamp, letting NaN through (its comparisons are false). Both selects have the form
        // `a < b ? a : b`, which x86 lowers to one `maxps`/`minps`.
        let lo = self.f(EXP_MIN);
        let x = self.select(FloatCC::LessThan, x, lo, lo, x);
        let hi = self.f(EXP_MAX);
        let x = self.select(FloatCC::LessThan, hi, x, hi, x);

        let log2e = self.f(LOG2E);
        let magic = self.f(ROUND_MAGIC);
        // With fma, x log2 e is rounded to an integer straight from the exact product.
        let t = self.mul_add(x, log2e, magic);
        let nf = self.b.ins().fsub(t, magic);
        // The integer n is t's bit pattern minus the magic number's (see the scaling below).
        let t_bits = self.bits_of(t);

        let r = if self.fma {
            // x - n ln2 as x + n (-ln2_hi) + n (-ln2_lo), each step rounded once.
            let (neg_hi, neg_lo) = (self.f(-LN2_HI), self.f(-LN2_LO));
            let r = self.b.ins().fma(nf, neg_hi, x);
            self.b.ins().fma(nf, neg_lo, r)
        } else {
            let ln2_hi = self.f(LN2_HI);
            let ln2_lo = self.f(LN2_LO);
            let a = self.b.ins().fmul(nf, ln2_hi);
            let r = self.b.ins().fsub(x, a);
            let c = self.b.ins().fmul(nf, ln2_lo);
            self.b.ins().fsub(r, c)
        };

        let p = self.horner(r, &EXP_P);
        let r2 = self.b.ins().fmul(r, r);
        let y = self.mul_add(p, r2, r);
        let one = self.f(1.0);
        let y = self.b.ins().fadd(y, one);

        // 2^n as 2^(n >> 1) * 2^(n - (n >> 1)), both normal: the first product is exact, the second
        // rounds once (to a subnormal, 0 or inf at the ends of the range). With M the magic number's
        // bits, t's bits are M + n and (M + n) >> 1 = M/2 + (n >> 1) (M is even); M/2 has its low 9
        // bits clear, so it leaves the exponent field once shifted up by 23: `pow2` of
        // `t_bits >> 1` and of `t_bits - (t_bits >> 1)` are the two factors, without removing M.
        const { assert!((ROUND_MAGIC.to_bits() / 2).is_multiple_of(512)) };
        let h = self.b.ins().sshr_imm_u(t_bits, 1);
        let rest = self.b.ins().isub(t_bits, h);
        let s1 = self.pow2(h);
        let s2 = self.pow2(rest);
        let y = self.b.ins().fmul(y, s1);
        self.b.ins().fmul(y, s2)
    }

    /// e^(sign x) with fused multiply-adds, shorter in instructions and in latency than the exact form:
    /// the polynomial in fused Horner steps, one scale factor instead of two, results
    /// below about 2^-125.5 flushed to 0 (see `EXP_FLUSH`). With `sign` -1 every step computes the
    /// negation of the one for `-x` (which rounds the same), and the polynomial's odd coefficients
    /// change sign, so the result has the bits of e^(-x).
    fn exp_fused(&mut self, x: Value, sign: f32) -> Value {
        let (lo, hi) = if sign > 0.0 { (EXP_FLUSH, EXP_MAX) } else { (-EXP_MAX, -EXP_FLUSH) };
        let lo = self.f(lo);
        let x = self.select(FloatCC::LessThan, x, lo, lo, x);
        let hi = self.f(hi);
        let x = self.select(FloatCC::LessThan, hi, x, hi, x);

        // The magic number also carries the scale's bias: t = M + n + 126, whose bits are bits(M) + n + 126
        // with bits(M)'s low 9 bits clear, so `t_bits << 23` is the exponent field of 2^(n-1).
        let log2e = self.f(sign * LOG2E);
        let magic = self.f(ROUND_MAGIC + (F32_BIAS - 1) as f32);
        let t = self.b.ins().fma(x, log2e, magic);
        let nf = self.b.ins().fsub(t, magic);
        let (ln2_hi, ln2_lo) = (self.f(-sign * LN2_HI), self.f(-sign * LN2_LO));
        let r = self.b.ins().fma(nf, ln2_hi, x);
        let r = self.b.ins().fma(nf, ln2_lo, r);

        // 2 e^r = c0 + r (c1 + r (c2 + ... + r c6)) in Horner's form: six multiply-adds, each step's
        // accumulator the destination of the next (no register copies of the constants, which
        // Estrin's independent pairs need), and a smaller error (0.92 against 1.01 ulp).
        let mut c = EXP2X_C;
        c.iter_mut().skip(1).step_by(2).for_each(|c| *c *= sign);
        let mut p = self.f(c[6]);
        for &ck in c[..6].iter().rev() {
            let ck = self.f(ck);
            p = self.b.ins().fma(p, r, ck);
        }

        let t_bits = self.bits_of(t);
        let scale = self.b.ins().ishl_imm_u(t_bits, F32_MANTISSA_BITS);
        let scale = self.float_of(scale);
        self.b.ins().fmul(p, scale)
    }

    fn log(&mut self, x: Value) -> Value {
        // Subnormals: scale up, and take the shift off the exponent.
        let tiny = self.f(f32::MIN_POSITIVE);
        let scale = self.f(2f32.powi(SUBNORMAL_SHIFT));
        let scaled = self.b.ins().fmul(x, scale);
        let xs = self.select(FloatCC::LessThan, x, tiny, scaled, x);
        let shift = self.f(SUBNORMAL_SHIFT as f32);
        let zero = self.f(0.0);
        let shift = self.select(FloatCC::LessThan, x, tiny, shift, zero);

        // x = 2^e m with m in [1, 2), read from the bits (x > 0 here; other inputs are fixed up below).
        let bits = self.bits_of(xs);
        let e = self.b.ins().ushr_imm_u(bits, F32_MANTISSA_BITS);
        let bias = self.i(F32_BIAS);
        let e = self.b.ins().isub(e, bias);
        let e = self.b.ins().fcvt_from_sint(self.ty, e);
        let e = self.b.ins().fsub(e, shift);
        let mask = self.i(MANTISSA_MASK);
        let m = self.b.ins().band(bits, mask);
        let one_bits = self.i(1f32.to_bits() as i32);
        let m = self.b.ins().bor(m, one_bits);
        let m = self.float_of(m);
        // Into [sqrt(1/2), sqrt(2)), so that log m is small on both sides of 0.
        let sqrt2 = self.f(std::f32::consts::SQRT_2);
        let half = self.f(0.5);
        let one = self.f(1.0);
        let m_half = self.b.ins().fmul(m, half);
        let e_up = self.b.ins().fadd(e, one);
        let e = self.select(FloatCC::GreaterThan, m, sqrt2, e_up, e);
        let m = self.select(FloatCC::GreaterThan, m, sqrt2, m_half, m);
        let f = self.b.ins().fsub(m, one);

        let z = self.b.ins().fmul(f, f);
        let y = self.horner(f, &LOG_L);
        let y = self.b.ins().fmul(y, f);
        let y = self.b.ins().fmul(y, z);
        let ln2_lo = self.f(LN2_LO);
        let c = self.b.ins().fmul(e, ln2_lo);
        let y = self.b.ins().fadd(y, c);
        let hz = self.b.ins().fmul(z, half);
        let y = self.b.ins().fsub(y, hz);
        let r = self.b.ins().fadd(f, y);
        let ln2_hi = self.f(LN2_HI);
        let c = self.b.ins().fmul(e, ln2_hi);
        let r = self.b.ins().fadd(r, c);

        // log(+inf) = +inf, log(±0) = -inf, log(x < 0) = log(NaN) = NaN.
        let inf = self.f(f32::INFINITY);
        let r = self.select(FloatCC::Equal, x, inf, inf, r);
        let neg_inf = self.f(f32::NEG_INFINITY);
        let r = self.select(FloatCC::Equal, x, zero, neg_inf, r);
        let nan = self.f(f32::NAN);
        self.select(FloatCC::GreaterThanOrEqual, x, zero, r, nan)
    }

    fn tanh(&mut self, x: Value) -> Value {
        let a = self.b.ins().fabs(x);

        let z = self.b.ins().fmul(a, a);
        let q = self.horner(z, &TANH_Q);
        let q = self.b.ins().fmul(q, z);
        let q = self.b.ins().fmul(q, a);
        let small = self.b.ins().fadd(q, a);

        // Large |x| saturates by itself: e^(2|x|) overflows to inf and 2 / inf is 0.
        let a2 = self.b.ins().fadd(a, a);
        let e = self.exp(a2);
        let one = self.f(1.0);
        let two = self.f(2.0);
        let e1 = self.b.ins().fadd(e, one);
        let d = self.b.ins().fdiv(two, e1);
        let large = self.b.ins().fsub(one, d);

        let limit = self.f(TANH_SMALL);
        let t = self.select(FloatCC::LessThan, a, limit, small, large);
        // tanh is odd: put x's sign on the result (which keeps tanh(-0) = -0).
        let t = self.bits_of(t);
        let x_bits = self.bits_of(x);
        let sign_mask = self.i(SIGN_BIT);
        let sign = self.b.ins().band(x_bits, sign_mask);
        let t = self.b.ins().bor(t, sign);
        self.float_of(t)
    }
}
