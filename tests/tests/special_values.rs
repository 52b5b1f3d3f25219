//! Special float values (signed zeros, f16 extremes and subnormals, infinities, NaN) on the kernel-IR
//! evaluator and the Cranelift backend, against the interpreter; `wgpu_f16.rs` runs the same graph on
//! wgpu in both f16 layouts.

mod lower_common;

use irc_runtime::{CpuBackend, EvalBackend};
use lower_common::check_special_values;

#[test]
fn special_values_match_on_the_evaluator_and_the_cpu_backend() {
    check_special_values(EvalBackend);
    check_special_values(CpuBackend::default());
}
