//! Differential checks for lowering: a graph lowered to kernels and run by the kernel-IR evaluator
//! (`Executable` with `EvalBackend`) or a device backend must give the interpreter's outputs. The
//! comparison itself (data, tolerances, `compare_on`) is `irc_check::compare`; this adds the panicking
//! forms the tests use.

#![allow(dead_code)] // each test file uses part of this module

use std::collections::HashMap;
use std::sync::OnceLock;

use irc_codegen::LowerOptions;
use irc_ir::Graph;
use irc_runtime::{EvalBackend, Executable, KernelBackend, Tensor, WgpuBackend, interpret};

pub use irc_check::compare::*;

pub mod ops;

/// Random data for `g` under `sizes`, lowered with `opts` and run by the kernel-IR evaluator.
pub fn compare_opts(g: &Graph, sizes: &HashMap<String, usize>, seed: u64, opts: &LowerOptions) -> Result<(), String> {
    let (inputs, params) = data(g, sizes, seed);
    compare_on(EvalBackend, g, &inputs, &params, opts)
}

/// Panics with the graph and the kernels when [`compare_opts`] fails.
#[track_caller]
pub fn check_opts(g: &Graph, sizes: &HashMap<String, usize>, seed: u64, opts: &LowerOptions) {
    if let Err(e) = compare_opts(g, sizes, seed, opts) {
        let kernels = irc_codegen::lower_with(g, opts)
            .map(|p| irc_codegen::kir::print_program(&p))
            .unwrap_or_else(|e| e.to_string());
        panic!("{e}\n\ngraph:\n{}\nkernels:\n{kernels}", irc_ir::print(g));
    }
}

/// [`compare_with`] on the kernel-IR evaluator.
pub fn compare(g: &Graph, sizes: &HashMap<String, usize>, seed: u64) -> Result<(), String> {
    compare_with(EvalBackend, g, sizes, seed)
}

/// Panics with the graph and the kernels when [`compare_with`] fails.
#[track_caller]
pub fn check_on<B: KernelBackend + Clone>(backend: B, g: &Graph, sizes: &HashMap<String, usize>, seed: u64) {
    if let Err(e) = compare_with(backend.clone(), g, sizes, seed) {
        let kernels = irc_codegen::lower_with(g, &backend.lower_options())
            .map(|p| irc_codegen::kir::print_program(&p))
            .unwrap_or_else(|e| e.to_string());
        panic!("{e}\n\ngraph:\n{}\nkernels:\n{kernels}", irc_ir::print(g));
    }
}

/// [`check_on`] the kernel-IR evaluator.
#[track_caller]
pub fn check(g: &Graph, sizes: &HashMap<String, usize>, seed: u64) {
    check_on(EvalBackend, g, sizes, seed);
}

/// The shared wgpu backend of a test binary (opening a device costs tens of milliseconds), or `None`
/// with a notice when no adapter exists, unless `IRC_REQUIRE_WGPU` is set: then a missing adapter
/// fails the test.
pub fn wgpu() -> Option<WgpuBackend> {
    static BACKEND: OnceLock<Result<WgpuBackend, String>> = OnceLock::new();
    match BACKEND.get_or_init(|| WgpuBackend::new().map_err(|e| e.to_string())) {
        Ok(b) => Some(b.clone()),
        Err(e) if std::env::var_os("IRC_REQUIRE_WGPU").is_some() => panic!("IRC_REQUIRE_WGPU is set: {e}"),
        Err(e) => {
            eprintln!("skipping: {e}");
            None
        }
    }
}

/// Equal values with equal signs, or both NaN.
fn same(a: f64, b: f64) -> bool {
    a == b && a.is_sign_negative() == b.is_sign_negative() || a.is_nan() && b.is_nan()
}

/// Zeros of both signs, the f16 extremes, subnormals, infinities and NaN through arithmetic, `max`/`min`
/// of zeros of both signs (-0 is below +0), casts and an overflow to infinity, in f16 and f32: `backend`
/// gives the interpreter's values, signs of zeros included (NaN payloads aside).
#[track_caller]
pub fn check_special_values<B: KernelBackend + Clone + std::fmt::Debug>(backend: B) {
    let g = irc_ir::parse(
        "graph special {
         %0 = input \"x\" : f16[12]
         %1 = neg %0 : f16[12]
         %2 = add %0, %0 : f16[12]
         %3 = mul %0, %0 : f16[12]
         %4 = cast %0 dtype=f32 : f32[12]
         %5 = max %0, %1 : f16[12]
         %6 = min %1, %0 : f16[12]
         %7 = abs %0 : f16[12]
         %8 = cast %4 dtype=f16 : f16[12]
         %9 = neg %4 : f32[12]
         %10 = max %9, %4 : f32[12]
         %11 = min %4, %9 : f32[12]
         output \"neg\" = %1
         output \"twice\" = %2
         output \"square\" = %3
         output \"wide\" = %4
         output \"max\" = %5
         output \"min\" = %6
         output \"abs\" = %7
         output \"back\" = %8
         output \"max32\" = %10
         output \"min32\" = %11
         }",
    )
    .unwrap();
    let values = vec![
        0.0,
        -0.0,
        1.0,
        -2.5,
        65504.0,
        -65504.0,
        5.960464477539063e-8,
        6.103515625e-5,
        1e-4,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ];
    let inputs = HashMap::from([("x".to_string(), Tensor::new(irc_ir::DType::F16, vec![12], values))]);
    let want = interpret(&g, &inputs, &HashMap::new()).unwrap();
    let got = Executable::compile(&g, backend.clone()).unwrap().run(&inputs, &HashMap::new()).unwrap();
    for ((w, o), out) in want.iter().zip(&got).zip(g.outputs()) {
        assert_eq!(w.dtype, o.dtype);
        for (i, (&a, &b)) in w.data.iter().zip(&o.data).enumerate() {
            assert!(same(a, b), "{}[{i}] on {backend:?}: {b} vs the interpreter's {a}", out.name);
        }
    }
}
