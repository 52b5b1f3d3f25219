//! f16 and bf16 <-> f32 conversions as Cranelift integer ops. Values of both types are held in f32
//! registers; loads widen exactly and stores round to nearest-even. The f16 sequences are the branch-free
//! bit tricks of Fabian Giesen's `half_to_float` and `float_to_half_fast3_rtne`; NaNs stay NaN (quiet).

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Value, types};
use cranelift_frontend::FunctionBuilder;

use super::expr::iconst;

fn bits_of(b: &mut FunctionBuilder, f: Value) -> Value {
    b.ins().bitcast(types::I32, MemFlagsData::new(), f)
}

fn float_of(b: &mut FunctionBuilder, bits: Value) -> Value {
    b.ins().bitcast(types::F32, MemFlagsData::new(), bits)
}

fn add(b: &mut FunctionBuilder, x: Value, c: i64) -> Value {
    let c = iconst(b, types::I32, c);
    b.ins().iadd(x, c)
}

fn cmp(b: &mut FunctionBuilder, cc: IntCC, x: Value, c: i64) -> Value {
    let c = iconst(b, types::I32, c);
    b.ins().icmp(cc, x, c)
}

/// bf16 bits (i16) to f32: the bf16 bits are the high half of the f32.
pub(super) fn bf16_to_f32(b: &mut FunctionBuilder, h: Value) -> Value {
    let w = b.ins().uextend(types::I32, h);
    let w = b.ins().ishl_imm_u(w, 16);
    float_of(b, w)
}

/// f32 to bf16 bits (i16), rounding to nearest-even; NaN keeps its high bits and gets the quiet bit.
pub(super) fn f32_to_bf16(b: &mut FunctionBuilder, f: Value) -> Value {
    let bits = bits_of(b, f);
    let abs = b.ins().band_imm_u(bits, 0x7fff_ffff);
    let is_nan = cmp(b, IntCC::UnsignedGreaterThan, abs, 0x7f80_0000);
    let high = b.ins().ushr_imm_u(bits, 16);
    let nan = b.ins().bor_imm_u(high, 0x40);
    let lsb = b.ins().band_imm_u(high, 1);
    let bias = add(b, lsb, 0x7fff);
    let rounded = b.ins().iadd(bits, bias);
    let rounded = b.ins().ushr_imm_u(rounded, 16);
    let r = b.ins().select(is_nan, nan, rounded);
    b.ins().ireduce(types::I16, r)
}

/// f16 bits (i16) to f32, exactly (subnormals, infinities and NaNs included).
pub(super) fn f16_to_f32(b: &mut FunctionBuilder, h: Value) -> Value {
    const SHIFTED_EXP: i64 = 0x7c00 << 13;
    let h = b.ins().uextend(types::I32, h);
    let magnitude = b.ins().band_imm_u(h, 0x7fff);
    let o = b.ins().ishl_imm_u(magnitude, 13);
    let exp = b.ins().band_imm_u(o, SHIFTED_EXP);
    let normal = add(b, o, (127 - 15) << 23);
    // Infinity/NaN: the exponent goes to all ones.
    let inf_nan = add(b, normal, (128 - 16) << 23);
    // Zero/subnormal: renormalize through a float subtraction of 2^-14.
    let den = add(b, normal, 1 << 23);
    let den = float_of(b, den);
    let magic = b.ins().f32const(f32::from_bits(113 << 23));
    let den = b.ins().fsub(den, magic);
    let den = bits_of(b, den);
    let is_special = cmp(b, IntCC::Equal, exp, SHIFTED_EXP);
    let is_small = cmp(b, IntCC::Equal, exp, 0);
    let o = b.ins().select(is_small, den, normal);
    let o = b.ins().select(is_special, inf_nan, o);
    let sign = b.ins().band_imm_u(h, 0x8000);
    let sign = b.ins().ishl_imm_u(sign, 16);
    let o = b.ins().bor(o, sign);
    float_of(b, o)
}

/// f32 to f16 bits (i16), rounding to nearest-even; overflow gives infinity, NaN gives 0x7e00.
pub(super) fn f32_to_f16(b: &mut FunctionBuilder, f: Value) -> Value {
    const F32_INF: i64 = 255 << 23;
    const F16_MAX: i64 = (127 + 16) << 23;
    const DENORM_MAGIC: i64 = ((127 - 15) + (23 - 10) + 1) << 23;
    let bits = bits_of(b, f);
    let sign = b.ins().band_imm_u(bits, 0x8000_0000);
    let abs = b.ins().bxor(bits, sign);
    // Too large: infinity, or a quiet NaN.
    let is_nan = cmp(b, IntCC::UnsignedGreaterThan, abs, F32_INF);
    let (nan, inf) = (iconst(b, types::I32, 0x7e00), iconst(b, types::I32, 0x7c00));
    let big = b.ins().select(is_nan, nan, inf);
    // Subnormal results: let the FPU round by adding 0.5, whose ulp is the f16 subnormal step.
    let absf = float_of(b, abs);
    let magic = b.ins().f32const(f32::from_bits(DENORM_MAGIC as u32));
    let sub = b.ins().fadd(absf, magic);
    let sub = bits_of(b, sub);
    let sub = add(b, sub, -DENORM_MAGIC);
    // Normal results: rebias the exponent and round the 13 dropped bits to nearest-even.
    let odd = b.ins().ushr_imm_u(abs, 13);
    let odd = b.ins().band_imm_u(odd, 1);
    let normal = add(b, abs, ((15 - 127) << 23) + 0xfff);
    let normal = b.ins().iadd(normal, odd);
    let normal = b.ins().ushr_imm_u(normal, 13);
    let is_big = cmp(b, IntCC::UnsignedGreaterThanOrEqual, abs, F16_MAX);
    let is_sub = cmp(b, IntCC::UnsignedLessThan, abs, 113 << 23);
    let o = b.ins().select(is_sub, sub, normal);
    let o = b.ins().select(is_big, big, o);
    let sign = b.ins().ushr_imm_u(sign, 16);
    let o = b.ins().bor(o, sign);
    b.ins().ireduce(types::I16, o)
}

/// f64 to f32 rounding to odd (truncate, then set the last bit if anything was dropped): a later
/// rounding to any format with at least two fewer bits is then the correct rounding of the f64 value.
pub(super) fn demote_to_odd(b: &mut FunctionBuilder, x: Value) -> Value {
    let t = b.ins().fdemote(types::F32, x);
    let back = b.ins().fpromote(types::F64, t);
    let inexact = b.ins().fcmp(FloatCC::NotEqual, back, x);
    let (abs_back, abs_x) = (b.ins().fabs(back), b.ins().fabs(x));
    let rounded_up = b.ins().fcmp(FloatCC::GreaterThan, abs_back, abs_x);
    let bits = bits_of(b, t);
    // One step toward zero in sign-magnitude bits (never from zero: a zero result cannot exceed |x|).
    let down = add(b, bits, -1);
    let bits = b.ins().select(rounded_up, down, bits);
    let odd = b.ins().bor_imm_u(bits, 1);
    let bits = b.ins().select(inexact, odd, bits);
    float_of(b, bits)
}

/// Rounds an f32 value to the nearest f16 or bf16 value, keeping it in f32 (casts to those dtypes).
pub(super) fn round_through(b: &mut FunctionBuilder, f: Value, bf16: bool) -> Value {
    if bf16 {
        let h = f32_to_bf16(b, f);
        bf16_to_f32(b, h)
    } else {
        let h = f32_to_f16(b, f);
        f16_to_f32(b, h)
    }
}
