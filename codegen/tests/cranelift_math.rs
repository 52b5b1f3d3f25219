//! The inline f32 `exp`, `tanh` and `log` (codegen/src/cranelift/math.rs) against f64 `exp`/`tanh`/`ln`: the error in
//! f32 ulps over a sweep of inputs, bounded by what docs/CPU.md states, and exact special cases. Every
//! kernel runs with and without SIMD, which must agree bit for bit (`cranelift_util::run`), and the error
//! bounds hold too with fused multiply-adds (the default options, where the host has FMA).

mod cranelift_util;

use cranelift_util::*;
use irc_codegen::cranelift::CompileOptions;
use irc_codegen::kir::Expr;
use irc_ir::{DType, UnaryOp};

/// The documented bounds, in f32 ulps of the correctly rounded result.
const EXP_MAX_ULPS: f64 = 1.0;
const TANH_MAX_ULPS: f64 = 1.5;
const LOG_MAX_ULPS: f64 = 1.0;
/// What the fused multiply-add form may add to a bound (measured: log 0.799, tanh 1.230 ulp over the sweeps).
const FUSED_SLACK_ULPS: f64 = 0.01;
/// The fused form's `exp` (a different polynomial and scaling) and its bound (measured over every f32:
/// 0.920 ulp).
const EXP_FUSED_MAX_ULPS: f64 = 0.93;
/// The fused `exp` may flush results below this to 0 (2^-125.4: the documented 2^-125.5 and the
/// rounding of `x log2 e` at the edge).
const EXP_FUSED_FLUSH: f64 = 1.8e-38;

/// Every this-many-th f32 bit pattern is swept (about a million inputs over all signs and exponents).
const BIT_STRIDE: u32 = 4093;
/// Evenly spaced inputs over the range where the function is neither saturated nor trivial.
const LINEAR_POINTS: usize = 1 << 20;

/// The exact function an inline one is measured against.
type Reference = fn(f64) -> f64;

fn apply(op: UnaryOp, xs: &[f32]) -> Vec<f32> {
    apply_with(op, xs, None)
}

/// `op` over `xs` with the exact options (checked against the scalar code) or with `options`.
fn apply_with(op: UnaryOp, xs: &[f32], options: Option<CompileOptions>) -> Vec<f32> {
    let k = elementwise(&format!("{}_f32", op.name()), &[DType::F32], DType::F32, |a| Expr::unary(op, a[0].clone()));
    let bufs = [Data::F32(xs.to_vec()), Data::zeros(DType::F32, xs.len())];
    let out = match options {
        None => run(&k, &bufs, &[xs.len() as i64]),
        Some(o) => run_with(&k, &bufs, &[xs.len() as i64], o),
    };
    out[1].f32().to_vec()
}

/// The spacing of f32 values at `y`'s magnitude (the subnormal spacing below the normal range).
fn ulp(y: f64) -> f64 {
    let y = (y.abs() as f32).max(f32::MIN_POSITIVE);
    if y.is_infinite() {
        return 2f64.powi(104);
    }
    2f64.powi(y.to_bits() as i32 / (1 << 23) - 127 - 23)
}

/// The largest error of `op` over `xs` in ulps, with the input that reaches it. Where the correctly
/// rounded result is infinite the result must be too.
/// Results whose magnitude is below `flush` may be 0 instead.
fn max_error(op: UnaryOp, xs: &[f32], got: &[f32], reference: Reference, flush: f64) -> (f64, f32) {
    let mut worst = (0.0, 0.0);
    for (&x, &y) in xs.iter().zip(got) {
        let want = reference(x as f64);
        if y == 0.0 && want.abs() < flush {
            continue;
        }
        if want.is_nan() {
            assert!(y.is_nan(), "{}({x}) = {y}, want NaN", op.name());
            continue;
        }
        if (want as f32).is_infinite() {
            assert_eq!(y, want as f32, "{}({x})", op.name());
            continue;
        }
        let err = (y as f64 - want).abs() / ulp(want);
        if err > worst.0 || err.is_nan() {
            worst = (err, x);
        }
    }
    worst
}

fn strided_bits() -> Vec<f32> {
    (0..=u32::MAX / BIT_STRIDE).map(|i| f32::from_bits(i * BIT_STRIDE)).collect()
}

fn linear(lo: f32, hi: f32) -> Vec<f32> {
    (0..LINEAR_POINTS).map(|i| lo + (hi - lo) * (i as f32 / LINEAR_POINTS as f32)).collect()
}

/// The error of the exact form within `bound`, and of the fused form within `fused_bound` with results
/// below `flush` allowed to be 0.
fn check(op: UnaryOp, reference: Reference, lo: f32, hi: f32, bound: f64, fused: (f64, f64)) {
    let (fused_bound, fused_flush) = fused;
    for (what, xs) in [("bit patterns", strided_bits()), ("linear", linear(lo, hi))] {
        for (form, options, bound, flush) in
            [("exact", None, bound, 0.0), ("fused", Some(CompileOptions::default()), fused_bound, fused_flush)]
        {
            let (err, at) = max_error(op, &xs, &apply_with(op, &xs, options), reference, flush);
            eprintln!("{} ({form}) over {} {what}: max error {err:.3} ulp at {at:e}", op.name(), xs.len());
            assert!(err <= bound, "{} ({form}): {err} ulp at {at:e} (x bits {:#x}) > {bound}", op.name(), at.to_bits());
        }
    }
}

#[test]
fn inline_exp_error() {
    check(UnaryOp::Exp, f64::exp, -104.0, 89.0, EXP_MAX_ULPS, (EXP_FUSED_MAX_ULPS, EXP_FUSED_FLUSH));
}

#[test]
fn inline_tanh_error() {
    check(UnaryOp::Tanh, f64::tanh, -10.0, 10.0, TANH_MAX_ULPS, (TANH_MAX_ULPS + FUSED_SLACK_ULPS, 0.0));
}

#[test]
fn inline_log_error() {
    check(UnaryOp::Log, f64::ln, 1e-3, 10.0, LOG_MAX_ULPS, (LOG_MAX_ULPS + FUSED_SLACK_ULPS, 0.0));
}

#[test]
fn inline_special_cases() {
    let (tiny, sub) = (f32::MIN_POSITIVE, f32::from_bits(1));
    let exp_cases = [
        (0.0, 1.0),
        (-0.0, 1.0),
        (f32::INFINITY, f32::INFINITY),
        (f32::NEG_INFINITY, 0.0),
        (f32::MAX, f32::INFINITY),
        (f32::MIN, 0.0),
        (88.8, f32::INFINITY),
        (-104.0, 0.0),
        (-200.0, 0.0),
        (sub, 1.0),
        (-sub, 1.0),
    ];
    let xs: Vec<f32> = exp_cases.iter().map(|c| c.0).chain([f32::NAN, -f32::NAN]).collect();
    let got = apply(UnaryOp::Exp, &xs);
    for ((x, want), y) in exp_cases.iter().zip(&got) {
        assert_eq!(y.to_bits(), want.to_bits(), "exp({x}) = {y}, want {want}");
    }
    assert!(got[exp_cases.len()..].iter().all(|y| y.is_nan()), "exp(NaN) = {got:?}");
    // The largest finite result and the smallest subnormal one are reached.
    let edge = apply(UnaryOp::Exp, &[88.72283, -103.27893]);
    assert!(edge[0].is_finite() && edge[0] > 3.4e38, "{edge:?}");
    assert!(edge[1] > 0.0, "{edge:?}");

    let tanh_cases = [
        (0.0, 0.0),
        (-0.0, -0.0),
        (sub, sub),
        (-sub, -sub),
        (tiny, tiny),
        (-tiny, -tiny),
        (1e-20, 1e-20),
        (f32::INFINITY, 1.0),
        (f32::NEG_INFINITY, -1.0),
        (f32::MAX, 1.0),
        (f32::MIN, -1.0),
        (20.0, 1.0),
        (-20.0, -1.0),
    ];
    let xs: Vec<f32> = tanh_cases.iter().map(|c| c.0).chain([f32::NAN, -f32::NAN]).collect();
    let got = apply(UnaryOp::Tanh, &xs);
    for ((x, want), y) in tanh_cases.iter().zip(&got) {
        assert_eq!(y.to_bits(), want.to_bits(), "tanh({x}) = {y}, want {want}");
    }
    assert!(got[tanh_cases.len()..].iter().all(|y| y.is_nan()), "tanh(NaN) = {got:?}");

    let log_cases = [
        (1.0, 0.0),
        (0.0, f32::NEG_INFINITY),
        (-0.0, f32::NEG_INFINITY),
        (f32::INFINITY, f32::INFINITY),
        (std::f32::consts::E, 1.0),
        (2.0, std::f32::consts::LN_2),
        (sub, (sub as f64).ln() as f32),
        (f32::MAX, (f32::MAX as f64).ln() as f32),
    ];
    let xs: Vec<f32> =
        log_cases.iter().map(|c| c.0).chain([f32::NAN, -f32::NAN, -1.0, -sub, f32::NEG_INFINITY]).collect();
    let got = apply(UnaryOp::Log, &xs);
    for ((x, want), y) in log_cases.iter().zip(&got) {
        assert_eq!(y.to_bits(), want.to_bits(), "log({x}) = {y}, want {want}");
    }
    assert!(got[log_cases.len()..].iter().all(|y| y.is_nan()), "log(NaN or < 0) = {got:?}");
}

/// Every f32 input, in chunks, both forms (minutes; run with `--ignored` after changing math.rs, and
/// `IRC_SWEEP=exp-fused` for one function and form). The bounds above come from this sweep.
#[test]
#[ignore]
fn inline_error_on_every_input() {
    const CHUNK: u64 = 1 << 24;
    let fused = Some(CompileOptions::default());
    // (function, reference, form, options, bound in ulps, flush threshold)
    type Case = (UnaryOp, Reference, &'static str, Option<CompileOptions>, f64, f64);
    let cases: [Case; 6] = [
        (UnaryOp::Exp, f64::exp, "exact", None, EXP_MAX_ULPS, 0.0),
        (UnaryOp::Exp, f64::exp, "fused", fused, EXP_FUSED_MAX_ULPS, EXP_FUSED_FLUSH),
        (UnaryOp::Tanh, f64::tanh, "exact", None, TANH_MAX_ULPS, 0.0),
        (UnaryOp::Tanh, f64::tanh, "fused", fused, TANH_MAX_ULPS + FUSED_SLACK_ULPS, 0.0),
        (UnaryOp::Log, f64::ln, "exact", None, LOG_MAX_ULPS, 0.0),
        (UnaryOp::Log, f64::ln, "fused", fused, LOG_MAX_ULPS + FUSED_SLACK_ULPS, 0.0),
    ];
    let only = std::env::var("IRC_SWEEP").ok();
    for (op, reference, form, options, bound, flush) in cases {
        if only.as_ref().is_some_and(|o| *o != format!("{}-{form}", op.name())) {
            continue;
        }
        let mut worst = (0.0, 0.0);
        for start in (0..1u64 << 32).step_by(CHUNK as usize) {
            let xs: Vec<f32> = (start..start + CHUNK).map(|b| f32::from_bits(b as u32)).collect();
            let e = max_error(op, &xs, &apply_with(op, &xs, options), reference, flush);
            if e.0 > worst.0 {
                worst = e;
            }
        }
        eprintln!("{} ({form}) over every f32: max error {:.3} ulp at {:e}", op.name(), worst.0, worst.1);
        assert!(worst.0 <= bound, "{} ({form}): {} ulp at {:e}", op.name(), worst.0, worst.1);
    }
}

/// `kernel` over `xs` with contraction on, SIMD and scalar code agreeing bit for bit.
fn fused(k: &irc_codegen::kir::Kernel, xs: &[f32]) -> Vec<f32> {
    let bufs = [Data::F32(xs.to_vec()), Data::zeros(DType::F32, xs.len())];
    let run = |simd| run_with(k, &bufs, &[xs.len() as i64], CompileOptions { simd, ..CompileOptions::default() });
    let (vector, scalar) = (run(true), run(false));
    assert!(same_bits(&vector[1], &scalar[1]), "{}: SIMD and scalar code differ", k.name);
    vector[1].f32().to_vec()
}

/// The fused `exp` at its edges, and `exp(-x)` emitted without the negation giving the bits of `exp`
/// of the negated input.
#[test]
fn fused_exp_edges_and_negated_argument() {
    let exp = elementwise("exp_f32", &[DType::F32], DType::F32, |a| Expr::unary(UnaryOp::Exp, a[0].clone()));
    let cases = [
        (0.0, 1.0),
        (-0.0, 1.0),
        (1.0, std::f32::consts::E),
        (f32::INFINITY, f32::INFINITY),
        (f32::NEG_INFINITY, 0.0),
        (f32::MAX, f32::INFINITY),
        (f32::MIN, 0.0),
        (88.8, f32::INFINITY),
        (-87.6, 0.0),
        (-200.0, 0.0),
    ];
    let payload_nans = [f32::NAN, -f32::NAN, f32::from_bits(0x7fc0_01ff), f32::from_bits(0xffbf_ffff)];
    let xs: Vec<f32> = cases.iter().map(|c| c.0).chain(payload_nans).collect();
    let got = fused(&exp, &xs);
    for ((x, want), y) in cases.iter().zip(&got) {
        assert_eq!(y.to_bits(), want.to_bits(), "exp({x}) = {y}, want {want}");
    }
    assert!(got[cases.len()..].iter().all(|y| y.is_nan()), "exp(NaN) = {got:?}");
    // The largest finite result is reached; the smallest normal ones are kept down to 2^-125.5.
    let edge = fused(&exp, &[88.72283, -86.9]);
    assert!(edge[0].is_finite() && edge[0] > 3.4e38, "{edge:?}");
    assert!((edge[1] as f64 - (-86.9f32 as f64).exp()).abs() <= 2.0 * ulp(edge[1] as f64), "{edge:?}");

    let exp_neg = elementwise("exp_neg_f32", &[DType::F32], DType::F32, |a| {
        Expr::unary(UnaryOp::Exp, Expr::unary(UnaryOp::Neg, a[0].clone()))
    });
    let xs: Vec<f32> = strided_bits().into_iter().chain(linear(-90.0, 105.0)).chain(payload_nans).collect();
    let negated: Vec<f32> = xs.iter().map(|x| -x).collect();
    let (a, b) = (fused(&exp_neg, &xs), fused(&exp, &negated));
    for ((x, a), b) in xs.iter().zip(&a).zip(&b) {
        assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()), "exp(-{x}): {a} vs exp of -x: {b}");
    }
}
