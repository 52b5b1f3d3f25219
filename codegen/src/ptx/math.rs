//! Transcendentals as f64 instruction sequences (PTX has no f64 `exp`/`log`/`sin`; its f32 `.approx`
//! forms have errors of 2^-22 and more). f32, f16 and bf16 arguments are widened to f64 and the result
//! rounded once to their dtype, as the evaluator does; so their results should be correctly rounded but
//! for rare ties. Expected f64 errors (from the polynomial degrees; not yet measured on a GPU):
//!
//! - `exp`: Cody-Waite reduction `x = n ln2 + r`, |r| <= ln2/2, Taylor to degree 13: about 1 ulp.
//! - `log`: `x = 2^e m`, m in [sqrt(1/2), sqrt(2)), `log m = 2 atanh(s)`, s = (m-1)/(m+1), series to
//!   s^23: about 1-2 ulp.
//! - `sin`/`cos`: reduction by pi/2 in three parts (fdlibm's constants), Taylor to degree 15/16: about
//!   1 ulp for |x| < 2^20; the reduction loses accuracy beyond (no Payne-Hanek).
//! - `tanh`: `sign(x) * em / (em + 2)` with `em = expm1(2|x|)`, 1 beyond |x| = 22: a few ulp.
//! - `pow`: `exp(y log|x|)` with C's special cases (signs of odd integer powers, NaN for a negative base
//!   and a non-integer exponent, `pow(x, 0) = pow(1, y) = 1`, `pow(-1, ±inf) = 1`); the product
//!   `y log|x|` carries a relative error of 2^-53, so f64 results lose about `|y ln x|` ulp (exact enough
//!   for f32 and narrower).
//! - float `%` (fmod): `x - trunc(x / y) y` with a correction step; exact while |x / y| < 2^53.

use irc_ir::DType;

use super::entry::Emit;
use super::types::{Class, float_imm};

const F: DType = DType::F64;

fn k(v: f64) -> String {
    float_imm(v, F)
}

/// 1/n! for n in 0..=16.
fn inv_factorial(n: u32) -> f64 {
    (1..=n).fold(1.0, |acc, i| acc / i as f64)
}

/// exp's argument range: above HI it overflows, below LO it rounds to 0; inside, n = round(x / ln 2) lies
/// in [-1075, 1024], so 2^n splits into two normal factors.
const EXP_HI: f64 = 709.8;
const EXP_LO: f64 = -745.2;
/// ln 2 = LN2_HI + LN2_LO; LN2_HI has 32 significant bits, so `n * LN2_HI` is exact (fdlibm).
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
/// pi/2 in three parts of 33 bits each (fdlibm `pio2_1`, `pio2_2`, `pio2_3`).
const PIO2: [f64; 3] = [
    f64::from_bits(0x3ff9_21fb_5440_0000),
    f64::from_bits(0x3dd0_b461_1a60_0000),
    f64::from_bits(0x3ba3_198a_2e00_0000),
];
/// Beyond this |x|, tanh x rounds to ±1 in f64.
const TANH_ONE: f64 = 22.0;

impl Emit<'_> {
    fn f(&mut self, op: &str, args: &[&str]) -> String {
        self.op(F, op, args)
    }

    fn p(&mut self, cmp: &str, args: &[&str]) -> String {
        self.ins(Class::Pred, &format!("setp.{cmp}.f64"), args)
    }

    /// `a` where `c`, else `b`.
    fn sel(&mut self, a: &str, b: &str, c: &str) -> String {
        self.ins(Class::F64, "selp.f64", &[a, b, c])
    }

    /// `coeffs[0] x^(n-1) + ... + coeffs[n-1]` by Horner's rule with fused multiply-adds.
    fn horner(&mut self, x: &str, coeffs: &[f64]) -> String {
        let mut acc = self.ins(Class::F64, "mov.f64", &[&k(coeffs[0])]);
        for &c in &coeffs[1..] {
            acc = self.f("fma.rn", &[&acc, x, &k(c)]);
        }
        acc
    }

    /// 2^m for an s32 register `m` in the normal exponent range.
    fn pow2(&mut self, m: &str) -> String {
        let biased = self.ins(Class::B32, "add.s32", &[m, "1023"]);
        let wide = self.ins(Class::B64, "cvt.s64.s32", &[&biased]);
        let bits = self.ins(Class::B64, "shl.b64", &[&wide, "52"]);
        self.ins(Class::F64, "mov.b64", &[&bits])
    }

    /// `(n, q)` with e^x = 2^n (1 + q) for `x` in [EXP_LO, EXP_HI]: `n` an s32 register, `q` = e^r - 1.
    fn exp_parts(&mut self, x: &str) -> (String, String) {
        let t = self.f("mul.rn", &[x, &k(std::f64::consts::LOG2_E)]);
        let n = self.f("cvt.rni.f64", &[&t]);
        let r = self.f("fma.rn", &[&n, &k(-LN2_HI), x]);
        let r = self.f("fma.rn", &[&n, &k(-LN2_LO), &r]);
        let coeffs: Vec<f64> = (1..=13).rev().map(inv_factorial).collect();
        let p = self.horner(&r, &coeffs);
        let q = self.f("mul.rn", &[&r, &p]);
        let ni = self.ins(Class::B32, "cvt.rni.s32.f64", &[&n]);
        (ni, q)
    }

    pub fn exp64(&mut self, x: &str) -> String {
        self.a.comment("exp (f64)");
        let lo = self.f("max", &[x, &k(EXP_LO)]);
        let xc = self.f("min", &[&lo, &k(EXP_HI)]);
        let (n, q) = self.exp_parts(&xc);
        let p = self.f("add.rn", &[&q, &k(1.0)]);
        let n1 = self.ins(Class::B32, "shr.s32", &[&n, "1"]);
        let n2 = self.ins(Class::B32, "sub.s32", &[&n, &n1]);
        let (s1, s2) = (self.pow2(&n1), self.pow2(&n2));
        let r = self.f("mul.rn", &[&p, &s1]);
        let r = self.f("mul.rn", &[&r, &s2]);
        let over = self.p("gt", &[x, &k(EXP_HI)]);
        let r = self.sel(&k(f64::INFINITY), &r, &over);
        let under = self.p("lt", &[x, &k(EXP_LO)]);
        let r = self.sel(&k(0.0), &r, &under);
        let nan = self.p("nan", &[x, x]);
        self.sel(x, &r, &nan)
    }

    pub fn log64(&mut self, x: &str) -> String {
        self.a.comment("log (f64)");
        // Subnormals are scaled into the normal range first.
        let small = self.p("lt", &[x, &k(f64::MIN_POSITIVE)]);
        let scaled = self.f("mul.rn", &[x, &k(2f64.powi(54))]);
        let xs = self.sel(&scaled, x, &small);
        let adj = self.ins(Class::B64, "selp.s64", &["-54", "0", &small]);
        let bits = self.ins(Class::B64, "mov.b64", &[&xs]);
        let e = self.ins(Class::B64, "shr.u64", &[&bits, "52"]);
        let e = self.ins(Class::B64, "and.b64", &[&e, "2047"]);
        let e = self.ins(Class::B64, "add.s64", &[&e, &adj]);
        let mant = self.ins(Class::B64, "and.b64", &[&bits, "4503599627370495"]);
        let mant = self.ins(Class::B64, "or.b64", &[&mant, "4607182418800017408"]);
        let m = self.ins(Class::F64, "mov.b64", &[&mant]);
        // m in [1, 2); above sqrt(2) take m/2 and e+1, so log m is small either way.
        let big = self.p("gt", &[&m, &k(std::f64::consts::SQRT_2)]);
        let half = self.f("mul.rn", &[&m, &k(0.5)]);
        let m = self.sel(&half, &m, &big);
        let e1 = self.ins(Class::B64, "add.s64", &[&e, "-1022"]);
        let e0 = self.ins(Class::B64, "add.s64", &[&e, "-1023"]);
        let e = self.ins(Class::B64, "selp.s64", &[&e1, &e0, &big]);
        let f = self.f("sub.rn", &[&m, &k(1.0)]);
        let d = self.f("add.rn", &[&f, &k(2.0)]);
        let s = self.f("div.rn", &[&f, &d]);
        let z = self.f("mul.rn", &[&s, &s]);
        let coeffs: Vec<f64> = (1..=11).rev().map(|i| 1.0 / (2 * i + 1) as f64).collect();
        let q = self.horner(&z, &coeffs);
        let t = self.f("mul.rn", &[&z, &q]);
        let s2 = self.f("add.rn", &[&s, &s]);
        let logm = self.f("fma.rn", &[&s2, &t, &s2]);
        let ed = self.ins(Class::F64, "cvt.rn.f64.s64", &[&e]);
        let lo = self.f("fma.rn", &[&ed, &k(LN2_LO), &logm]);
        let r = self.f("fma.rn", &[&ed, &k(LN2_HI), &lo]);
        // log(+inf) = +inf, log(±0) = -inf, log(x < 0) = NaN, NaN stays.
        let inf = self.p("eq", &[x, &k(f64::INFINITY)]);
        let r = self.sel(&k(f64::INFINITY), &r, &inf);
        let zero = self.p("eq", &[x, &k(0.0)]);
        let r = self.sel(&k(f64::NEG_INFINITY), &r, &zero);
        let neg = self.p("lt", &[x, &k(0.0)]);
        let r = self.sel(&k(f64::NAN), &r, &neg);
        let nan = self.p("nan", &[x, x]);
        self.sel(x, &r, &nan)
    }

    pub fn sincos64(&mut self, x: &str, cos: bool) -> String {
        self.a.comment(if cos { "cos (f64)" } else { "sin (f64)" });
        let t = self.f("mul.rn", &[x, &k(std::f64::consts::FRAC_2_PI)]);
        let n = self.f("cvt.rni.f64", &[&t]);
        let mut r = x.to_string();
        for part in PIO2 {
            r = self.f("fma.rn", &[&n, &k(-part), &r]);
        }
        let q = self.ins(Class::B64, "cvt.rni.s64.f64", &[&n]);
        let q = if cos { self.ins(Class::B64, "add.s64", &[&q, "1"]) } else { q };
        let z = self.f("mul.rn", &[&r, &r]);
        // sin r = r + r z S(z), cos r = 1 + z C(z) (Taylor).
        let sin_c: Vec<f64> =
            (1..=7).rev().map(|i| if i % 2 == 1 { -1.0 } else { 1.0 } * inv_factorial(2 * i + 1)).collect();
        let cos_c: Vec<f64> =
            (1..=8).rev().map(|i| if i % 2 == 1 { -1.0 } else { 1.0 } * inv_factorial(2 * i)).collect();
        let s = self.horner(&z, &sin_c);
        let rz = self.f("mul.rn", &[&r, &z]);
        let sin_r = self.f("fma.rn", &[&rz, &s, &r]);
        let c = self.horner(&z, &cos_c);
        let cos_r = self.f("fma.rn", &[&z, &c, &k(1.0)]);
        let odd = self.ins(Class::B64, "and.b64", &[&q, "1"]);
        let use_cos = self.ins(Class::Pred, "setp.ne.s64", &[&odd, "0"]);
        let v = self.sel(&cos_r, &sin_r, &use_cos);
        let hi = self.ins(Class::B64, "and.b64", &[&q, "2"]);
        let negate = self.ins(Class::Pred, "setp.ne.s64", &[&hi, "0"]);
        let nv = self.f("neg", &[&v]);
        self.sel(&nv, &v, &negate)
    }

    pub fn tanh64(&mut self, x: &str) -> String {
        self.a.comment("tanh (f64)");
        let ax = self.f("abs", &[x]);
        let y = self.f("add.rn", &[&ax, &ax]);
        let yc = self.f("min", &[&y, &k(2.0 * TANH_ONE)]);
        let (n, q) = self.exp_parts(&yc);
        // expm1(y) = 2^n (1 + q) - 1 = 2^n q + (2^n - 1), the last term exact.
        let s = self.pow2(&n);
        let s1 = self.f("sub.rn", &[&s, &k(1.0)]);
        let em = self.f("fma.rn", &[&s, &q, &s1]);
        let den = self.f("add.rn", &[&em, &k(2.0)]);
        let t = self.f("div.rn", &[&em, &den]);
        let one = self.p("gt", &[&ax, &k(TANH_ONE)]);
        let t = self.sel(&k(1.0), &t, &one);
        let r = self.f("copysign", &[x, &t]);
        let nan = self.p("nan", &[x, x]);
        self.sel(x, &r, &nan)
    }

    pub fn pow64(&mut self, x: &str, y: &str) -> String {
        self.a.comment("pow (f64)");
        let ax = self.f("abs", &[x]);
        let l = self.log64(&ax);
        let t = self.f("mul.rn", &[y, &l]);
        let r = self.exp64(&t);
        // An odd integer y keeps the sign of x (-0 included).
        let ry = self.f("cvt.rni.f64", &[y]);
        let is_int = self.p("eq", &[y, &ry]);
        let h = self.f("mul.rn", &[y, &k(0.5)]);
        let rh = self.f("cvt.rni.f64", &[&h]);
        let even = self.p("eq", &[&h, &rh]);
        let odd_half = self.ins(Class::Pred, "not.pred", &[&even]);
        let odd = self.ins(Class::Pred, "and.pred", &[&is_int, &odd_half]);
        let bits = self.ins(Class::B64, "mov.b64", &[x]);
        let sign = self.ins(Class::Pred, "setp.lt.s64", &[&bits, "0"]);
        let flip = self.ins(Class::Pred, "and.pred", &[&sign, &odd]);
        let nr = self.f("neg", &[&r]);
        let r = self.sel(&nr, &r, &flip);
        // A finite negative base and a non-integer exponent: NaN.
        let neg = self.p("lt", &[x, &k(0.0)]);
        let finite = self.p("gt", &[x, &k(f64::NEG_INFINITY)]);
        let bad = self.ins(Class::Pred, "and.pred", &[&neg, &finite]);
        let frac = self.ins(Class::Pred, "not.pred", &[&is_int]);
        let bad = self.ins(Class::Pred, "and.pred", &[&bad, &frac]);
        let r = self.sel(&k(f64::NAN), &r, &bad);
        // pow(-1, ±inf) = pow(1, y) = pow(x, ±0) = 1, NaNs included.
        let m1 = self.p("eq", &[x, &k(-1.0)]);
        let ay = self.f("abs", &[y]);
        let yinf = self.p("eq", &[&ay, &k(f64::INFINITY)]);
        let one = self.ins(Class::Pred, "and.pred", &[&m1, &yinf]);
        let x1 = self.p("eq", &[x, &k(1.0)]);
        let y0 = self.p("eq", &[y, &k(0.0)]);
        let one = self.ins(Class::Pred, "or.pred", &[&one, &x1]);
        let one = self.ins(Class::Pred, "or.pred", &[&one, &y0]);
        self.sel(&k(1.0), &r, &one)
    }

    pub fn fmod64(&mut self, x: &str, y: &str) -> String {
        self.a.comment("fmod (f64)");
        let q = self.f("div.rn", &[x, y]);
        let t = self.f("cvt.rzi.f64", &[&q]);
        let nt = self.f("neg", &[&t]);
        let r = self.f("fma.rn", &[&nt, y, x]);
        // A quotient rounded up past an integer leaves r with the wrong sign: add |y| back toward x.
        let ay = self.f("abs", &[y]);
        let step = self.f("copysign", &[x, &ay]);
        let fixed = self.f("add.rn", &[&r, &step]);
        let rbits = self.ins(Class::B64, "mov.b64", &[&r]);
        let xbits = self.ins(Class::B64, "mov.b64", &[x]);
        let diff = self.ins(Class::B64, "xor.b64", &[&rbits, &xbits]);
        let flipped = self.ins(Class::Pred, "setp.lt.s64", &[&diff, "0"]);
        let nonzero = self.p("ne", &[&r, &k(0.0)]);
        let wrong = self.ins(Class::Pred, "and.pred", &[&flipped, &nonzero]);
        let r = self.sel(&fixed, &r, &wrong);
        // fmod(x, ±inf) = x for finite x.
        let yinf = self.p("eq", &[&ay, &k(f64::INFINITY)]);
        let ax = self.f("abs", &[x]);
        let xfin = self.p("lt", &[&ax, &k(f64::INFINITY)]);
        let keep = self.ins(Class::Pred, "and.pred", &[&yinf, &xfin]);
        self.sel(x, &r, &keep)
    }
}
