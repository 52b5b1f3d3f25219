//! Lowered programs on the Cranelift CPU backend, against the interpreter: the zoo models and a sweep of
//! random graphs (the same checks as `lower_zoo` and `lower_random` on the evaluator).

mod lower_common;

use irc_frontends::zoo::zoo_models;
use irc_runtime::CpuBackend;
use irc_tests::GenConfig;
use lower_common::{check_on, random_graphs, sizes};

#[test]
fn zoo_models_on_the_cpu() {
    for (k, m) in zoo_models().iter().enumerate() {
        let g = irc_frontends::build(m.name, &[]).unwrap();
        check_on(CpuBackend::default(), &g, &sizes(&[("B", 2), ("T", 5)]), k as u64);
    }
}

#[test]
fn random_graphs_on_the_cpu() {
    for cfg in [GenConfig::static_dims(24), GenConfig { max_nodes: 24, symbolic: true, zero_size: true }] {
        for (g, sizes, seed) in random_graphs(&cfg, 150) {
            check_on(CpuBackend::new(1), &g, &sizes, seed);
        }
    }
}
