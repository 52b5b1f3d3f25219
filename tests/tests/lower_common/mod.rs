//! Differential checks for lowering: a graph lowered to kernels and run by the kernel-IR evaluator
//! (`Executable` with `EvalBackend`) or a device backend must give the interpreter's outputs. The
//! comparison itself (data, tolerances, `compare_on`) is `irc_check::compare`; this adds the panicking
//! forms the tests use.

#![allow(dead_code)] // each test file uses part of this module

use std::collections::HashMap;
use std::sync::OnceLock;

use irc_codegen::LowerOptions;
use irc_ir::Graph;
use irc_runtime::{EvalBackend, Executable, KernelBackend, RunError, WgpuBackend, WgpuError};

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

/// Panics unless `backend` gives the interpreter's values on special floats
/// ([`irc_check::special::special_values`]).
#[track_caller]
pub fn check_special_values<B: KernelBackend + Clone + std::fmt::Debug>(backend: B) {
    if let Err(e) = irc_check::special::special_values(backend) {
        panic!("{e}");
    }
}

/// Asserts that `g` (which computes in f64) fails to compile for `backend` with its clear error.
#[track_caller]
pub fn reject_f64_on_wgpu(backend: WgpuBackend, g: &Graph) {
    match Executable::compile(g, backend) {
        Err(RunError::Wgpu(WgpuError::Codegen(e))) => {
            assert!(e.to_string().contains("not supported by the wgpu backend: f64"), "{e}")
        }
        Err(e) => panic!("f64 graph: unexpected error {e}"),
        Ok(_) => panic!("f64 graph compiled for wgpu:\n{}", irc_ir::print(g)),
    }
}
