//! The wgpu backend against the interpreter on whole models: every zoo model forward (small f32
//! configurations), random graphs in f32, and a few training steps of a small GPT. Fused GPU schedule
//! only (`wgpu_ops` covers unfused kernels): lavapipe compiles every shader with LLVM, which dominates.

mod lower_common;

use irc_check::training::{batch, tiny_gpt};
use irc_frontends::zoo::zoo_models;
use irc_ir::{DType, Graph};
use irc_passes::Optimizer;
use irc_runtime::{BackendKind, KernelBackend, Trainer, WgpuBackend};
use irc_tests::GenConfig;
use irc_tests::fixtures::small_zoo_config as small_config;
use lower_common::{compare_on, data, random_graphs_from, sizes, wgpu, with_floats};

#[track_caller]
fn check(backend: &WgpuBackend, g: &Graph, sizes: &std::collections::HashMap<String, usize>, seed: u64) {
    let (inputs, params) = data(g, sizes, seed);
    let opts = backend.lower_options();
    if let Err(e) = compare_on(backend.clone(), g, &inputs, &params, &opts) {
        panic!("{e}\n\ngraph:\n{}", irc_ir::print(g));
    }
}

#[test]
fn zoo_models_forward_on_wgpu() {
    let Some(backend) = wgpu() else { return };
    for (k, m) in zoo_models().iter().enumerate() {
        let g = irc_frontends::build(m.name, &small_config(m.name, "f32")).unwrap();
        check(&backend, &g, &sizes(&[("B", 2), ("T", 5)]), k as u64);
    }
}

#[test]
fn random_graphs_on_wgpu() {
    let Some(backend) = wgpu() else { return };
    for cfg in [GenConfig::static_dims(16), GenConfig { max_nodes: 16, symbolic: true, zero_size: true }] {
        for (g, sizes, seed) in random_graphs_from(&cfg, 0..25) {
            check(&backend, &with_floats(&g, DType::F32), &sizes, seed);
        }
    }
}

#[test]
fn wgpu_trains_like_the_reference_interpreter() {
    // As `cpu_backend_trains_like_the_reference_interpreter`: the whole step graph (forward, backward,
    // AdamW) as WGSL kernels; losses agree to f32 accumulation error over a few steps.
    if wgpu().is_none() {
        return;
    }
    let new = |kind| Trainer::on(kind, tiny_gpt(), "loss", Optimizer::adamw(), Some(1.0), 5).unwrap();
    let (mut reference, mut gpu) = (new(BackendKind::Reference), new(BackendKind::Wgpu));
    for step in 1..=2 {
        let (a, b) = (reference.step(batch(step), 1e-2).unwrap(), gpu.step(batch(step), 1e-2).unwrap());
        assert!((a - b).abs() <= 1e-4 * a.abs(), "step {step}: reference {a} vs wgpu {b}");
    }
    let (pr, pg) = (reference.params().unwrap(), gpu.params().unwrap());
    for (name, t) in &pr {
        for (x, y) in t.data.iter().zip(&pg[name].data) {
            assert!((x - y).abs() <= 1e-3, "{name}: {x} vs {y}");
        }
    }
}
