//! The executor's arena (`Allocation::Arena`): outputs bit-identical to per-buffer zeroed allocation on
//! every zoo model and on random graphs, with the evaluator and the CPU backend, and the arena's size
//! against the live peak. Debug builds fill a fresh arena with 0xff bytes, so a kernel that read bytes
//! it did not write would make these comparisons fail.

mod lower_common;

use std::collections::HashMap;

use irc_frontends::zoo::zoo_models;
use irc_ir::Graph;
use irc_runtime::{Allocation, CpuBackend, EvalBackend, Executable, KernelBackend, Tensor};
use irc_tests::{GenConfig, Rng, random_static_graph};
use lower_common::{bindings, data, random_graphs, sizes};
use proptest::prelude::*;

/// A run's outputs as comparable bits, or its error.
fn outputs<B: KernelBackend>(
    exe: &Executable<B>,
    ins: &HashMap<String, Tensor>,
    ps: &HashMap<String, Tensor>,
) -> String {
    match exe.run(ins, ps) {
        Ok(ts) => {
            let bits = |t: &Tensor| t.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            format!("{:?}", ts.iter().map(|t| (t.dtype, &t.shape, bits(t))).collect::<Vec<_>>())
        }
        Err(e) => format!("error: {e}"),
    }
}

/// Runs `g` with the arena and with per-buffer allocation; `Err` when the results differ in any bit.
fn same_bits<B: KernelBackend>(backend: B, g: &Graph, sizes: &HashMap<String, usize>, seed: u64) -> Result<(), String> {
    let (inputs, params) = data(g, sizes, seed);
    let mut exe = Executable::compile(g, backend).map_err(|e| format!("compile: {e}"))?;
    let arena = outputs(&exe, &inputs, &params);
    exe.set_allocation(Allocation::PerBuffer);
    let per_buffer = outputs(&exe, &inputs, &params);
    if arena != per_buffer {
        return Err(format!("arena {arena}\nper buffer {per_buffer}\ngraph:\n{}", irc_ir::print(g)));
    }
    Ok(())
}

#[test]
fn gpt_block_arena_is_within_a_quarter_of_the_live_peak() {
    let g = irc_frontends::build("gpt-block", &[]).unwrap();
    let (inputs, params) = data(&g, &sizes(&[("B", 2), ("T", 16)]), 1);
    let exe = Executable::compile(&g, CpuBackend::new(1)).unwrap();
    let plan = exe.memory_plan(&inputs, &params).unwrap();
    println!("gpt-block B=2 T=16: arena {} bytes, live peak {} bytes", plan.arena_bytes, plan.live_peak);
    assert!(plan.live_peak > 0 && plan.arena_bytes >= plan.live_peak, "{plan:?}");
    assert!(
        plan.arena_bytes as f64 <= 1.25 * plan.live_peak as f64,
        "arena {} live peak {}",
        plan.arena_bytes,
        plan.live_peak
    );
}

#[test]
fn zoo_models_are_bit_identical_in_the_arena() {
    for (k, m) in zoo_models().iter().enumerate() {
        let g = irc_frontends::build(m.name, &[]).unwrap();
        for (b, t) in [(1, 1), (2, 5)] {
            let s = sizes(&[("B", b), ("T", t)]);
            same_bits(EvalBackend, &g, &s, k as u64).unwrap();
            same_bits(CpuBackend::default(), &g, &s, k as u64).unwrap();
        }
    }
    let loss = [("loss".to_string(), "true".to_string())];
    let g = irc_frontends::build("gpt-tiny", &loss).unwrap();
    same_bits(CpuBackend::default(), &g, &sizes(&[("B", 2), ("T", 3)]), 5).unwrap();
}

#[test]
fn random_graphs_are_bit_identical_in_the_arena() {
    for cfg in [GenConfig::static_dims(24), GenConfig { max_nodes: 24, symbolic: true, zero_size: true }] {
        for (g, sizes, seed) in random_graphs(&cfg, 150) {
            same_bits(EvalBackend, &g, &sizes, seed).unwrap();
            same_bits(CpuBackend::new(1), &g, &sizes, seed).unwrap();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_static_graphs_are_bit_identical_in_the_arena(g in random_static_graph(16), seed in any::<u64>()) {
        let sizes = bindings(&mut Rng::new(seed));
        let eval = same_bits(EvalBackend, &g, &sizes, seed);
        prop_assert!(eval.is_ok(), "{}", eval.unwrap_err());
        let cpu = same_bits(CpuBackend::new(1), &g, &sizes, seed);
        prop_assert!(cpu.is_ok(), "{}", cpu.unwrap_err());
    }
}
