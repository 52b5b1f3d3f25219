//! WGSL helper functions every shader starts with: the kernel IR's semantics where WGSL's builtins differ
//! (NaN-propagating max/min, `pow` of negative bases, integer division by zero, saturating float to int
//! casts) or are missing (f16 and bf16 rounding of f32 values). NaN tests look at the bits: WGSL allows
//! implementations to assume floats are finite, so `x != x` may be folded away.

pub(super) const PRELUDE: &str = r#"
fn irc_isnan(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

fn irc_nan() -> f32 {
  return bitcast<f32>(0x7fc00000u);
}

// `!=` is true when either side is NaN; drivers may compile `!=` as an ordered comparison.
fn irc_fne(a: f32, b: f32) -> bool {
  return irc_isnan(a) || irc_isnan(b) || a != b;
}

// WGSL leaves the sign of max(-0, +0) open; the kernel IR orders -0 below +0: equal operands differ
// only in the sign of a zero, and the bitwise and (or) of the two picks +0 (-0).
fn irc_fmax(a: f32, b: f32) -> f32 {
  if (irc_isnan(a) || irc_isnan(b)) { return irc_nan(); }
  if (a == b) { return bitcast<f32>(bitcast<u32>(a) & bitcast<u32>(b)); }
  return max(a, b);
}

fn irc_fmin(a: f32, b: f32) -> f32 {
  if (irc_isnan(a) || irc_isnan(b)) { return irc_nan(); }
  if (a == b) { return bitcast<f32>(bitcast<u32>(a) | bitcast<u32>(b)); }
  return min(a, b);
}

fn irc_tanh(x: f32) -> f32 {
  // tanh(10) rounds to 1 in f32; clamping keeps exp-based implementations from overflowing.
  if (irc_isnan(x)) { return x; }
  return tanh(clamp(x, -10.0, 10.0));
}

// C's pow: negative bases with integer exponents, zero bases, and the exact cases pow(x, 0) = pow(1, y) = 1.
fn irc_pow(a: f32, b: f32) -> f32 {
  if (b == 0.0 || a == 1.0) { return 1.0; }
  if (irc_isnan(a) || irc_isnan(b)) { return irc_nan(); }
  if (a == 0.0) {
    if (b > 0.0) { return 0.0; }
    return bitcast<f32>(0x7f800000u);
  }
  if (a < 0.0) {
    if (b != floor(b)) { return irc_nan(); }
    let m = pow(-a, b);
    if (b - 2.0 * floor(b * 0.5) == 1.0) { return -m; }
    return m;
  }
  return pow(a, b);
}

fn irc_f2i(x: f32) -> i32 {
  if (irc_isnan(x)) { return 0; }
  if (x >= 2147483647.0) { return 2147483647; }
  if (x <= -2147483648.0) { return i32(-2147483648); }
  return i32(x);
}

fn irc_idiv(a: i32, b: i32) -> i32 {
  if (b == 0) { return 0; }
  if (b == -1) { return -a; }
  return a / b;
}

fn irc_irem(a: i32, b: i32) -> i32 {
  if (b == 0 || b == -1) { return 0; }
  return a % b;
}

// Round to nearest even at f16 precision, by bits (pack2x16float needs a capability many devices lack).
fn irc_round_f16(x: f32) -> f32 {
  if (irc_isnan(x)) { return x; }
  let a = abs(x);
  if (a >= 65520.0) { return select(bitcast<f32>(0xff800000u), bitcast<f32>(0x7f800000u), x > 0.0); }
  if (a < 6.103515625e-5) {
    // f16 subnormals: multiples of 2^-24; the scaling is exact and round() rounds half to even.
    return round(x * 16777216.0) / 16777216.0;
  }
  let u = bitcast<u32>(x);
  return bitcast<f32>((u + 0xfffu + ((u >> 13u) & 1u)) & 0xffffe000u);
}

fn irc_round_bf16(x: f32) -> f32 {
  if (irc_isnan(x)) { return x; }
  let u = bitcast<u32>(x);
  return bitcast<f32>((u + 0x7fffu + ((u >> 16u) & 1u)) & 0xffff0000u);
}
"#;
