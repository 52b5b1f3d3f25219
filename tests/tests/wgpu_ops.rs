//! Every primitive op (the cases of `lower_common/ops.rs`) on the wgpu backend against the interpreter,
//! in the GPU schedule, fused and unfused. Graphs with f64 must fail with the backend's clear error; i64
//! saturation is not checked (the device holds i64 as i32).

mod lower_common;

use irc_check::ops::Runner;
use lower_common::ops::op_tests;
use lower_common::{check_on, reject_f64_on_wgpu, wgpu};

fn check(g: &irc_ir::Graph, sizes: &std::collections::HashMap<String, usize>, seed: u64) {
    check_on(wgpu().expect("the runner exists only with an adapter"), g, sizes, seed);
}

fn reject(g: &irc_ir::Graph) {
    reject_f64_on_wgpu(wgpu().expect("adapter"), g);
}

op_tests!(wgpu().map(|_| Runner { check: &check, f64: false, wide_ints: false, reject: &reject }));
