//! The optimizer on random graphs (every op, static and symbolic dims): the result keeps the
//! interface, verifies, and computes the same outputs under the reference interpreter, with the
//! tolerance of the rule groups run (see `opt_common`).

mod opt_common;

use std::collections::{BTreeMap, HashMap};

use irc_check::compare::to_f64;
use irc_ir::Graph;
use irc_passes::opt::{OptOptions, RuleGroup};
use irc_tests::{Choice, GenConfig, MIN_BINDING, Rng, build_graph, graph_strategy};
use opt_common::{REASSOC_F64, Tol, check, same_interface, same_values, sizes};
use proptest::prelude::*;

fn bindings(rng: &mut Rng) -> HashMap<String, usize> {
    sizes(&[("B", MIN_BINDING + rng.below(3)), ("T", MIN_BINDING + rng.below(4))])
}

/// `n` random graphs from fixed seeds, each with symbol bindings and its seed.
fn graphs(cfg: &GenConfig, n: u64) -> impl Iterator<Item = (Graph, HashMap<String, usize>, u64)> + '_ {
    (0..n).map(move |seed| {
        let mut rng = Rng::new(seed);
        let len = 1 + rng.below(cfg.max_nodes);
        let choices: Vec<(Choice, u64)> = (0..len).map(|_| (*rng.pick(&Choice::ALL), rng.next_u64())).collect();
        (build_graph(cfg, &choices), bindings(&mut rng), seed)
    })
}

#[test]
fn exact_rules_are_bit_identical_on_random_graphs() {
    let opts = OptOptions::with_groups(&[RuleGroup::Simplify]);
    for (g, s, seed) in graphs(&GenConfig::symbolic(32), 400) {
        check(&g, &opts, &s, seed, Tol::Exact);
    }
}

#[test]
fn default_rules_on_random_graphs() {
    let mut fired: BTreeMap<String, usize> = BTreeMap::new();
    for (g, s, seed) in graphs(&GenConfig { max_nodes: 32, symbolic: true, zero_size: true }, 400) {
        let (_, report) = check(&to_f64(&g), &OptOptions::default(), &s, seed, REASSOC_F64);
        for (rule, n) in report.rules {
            *fired.entry(rule).or_insert(0) += n;
        }
    }
    println!("{fired:?}");
    // The sweep exercises the rules, not only the round trip (which rules fire depends on the generated
    // graphs; `opt_rules` makes each rule fire on a graph written for it).
    for rule in ["constant-fold", "permute-permute", "matmul-assoc-right", "expand-expand"] {
        assert!(fired.contains_key(rule), "{rule} never fired: {fired:?}");
    }
}

#[test]
fn all_rules_on_random_graphs() {
    for (g, s, seed) in graphs(&GenConfig::static_dims(32), 400) {
        check(&to_f64(&g), &OptOptions::all_groups(), &s, seed, Tol::Real { rtol: 1e-9, atol: 1e-9 });
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Shrinks a failure to a small graph.
    #[test]
    fn proptest_graphs(g in graph_strategy(GenConfig::symbolic(16)), seed in any::<u64>()) {
        let g = to_f64(&g);
        let s = bindings(&mut Rng::new(seed));
        let (h, report) = irc_passes::opt::optimize(&g, &OptOptions::all_groups()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let res = same_interface(&g, &h).and_then(|_| same_values(&g, &h, &s, seed, Tol::Real { rtol: 1e-9, atol: 1e-9 }));
        prop_assert!(res.is_ok(), "{:?}\n{}\n{}\n{report}", res, irc_ir::print(&g), irc_ir::print(&h));
    }
}
