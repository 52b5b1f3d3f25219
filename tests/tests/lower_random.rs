//! Random graphs (every op, static, symbolic and zero-size dims) lowered to kernels and run by the
//! kernel-IR evaluator, against the interpreter. Floats are widened to f64 first (`to_f64`), so the two
//! agree to rounding: the kernels do the interpreter's operations in the same order. With f32 the
//! interpreter's f64 accumulation would differ by more than any fixed tolerance after the cancellations
//! random graphs are full of; f32 is covered by the op, pattern and zoo tests.

mod lower_common;

use irc_tests::{GenConfig, Rng, graph_strategy};
use lower_common::{bindings, check, compare, random_graphs, to_f64};
use proptest::prelude::*;

fn sweep(cfg: &GenConfig, n: u64) {
    for (g, sizes, seed) in random_graphs(cfg, n) {
        check(&g, &sizes, seed);
    }
}

#[test]
fn static_graphs() {
    sweep(&GenConfig::static_dims(32), 1000);
}

#[test]
fn symbolic_graphs() {
    sweep(&GenConfig::symbolic(32), 1000);
}

#[test]
fn graphs_with_empty_tensors() {
    sweep(&GenConfig { max_nodes: 32, symbolic: true, zero_size: true }, 1000);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Shrinks a failure to a small graph.
    #[test]
    fn proptest_graphs(g in graph_strategy(GenConfig { max_nodes: 16, symbolic: true, zero_size: true }), seed in any::<u64>()) {
        let g = to_f64(&g);
        let sizes = bindings(&mut Rng::new(seed));
        prop_assert!(compare(&g, &sizes, seed).is_ok(), "{:?}\n{}", compare(&g, &sizes, seed), irc_ir::print(&g));
    }
}
