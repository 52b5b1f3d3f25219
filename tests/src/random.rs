//! proptest strategies over the random graph generator of `irc_check::random`: shrinking drops choices
//! while every remaining choice still makes the same decisions.

use irc_check::random::{Choice, GenConfig, build_graph};
use irc_ir::Graph;
use proptest::prelude::*;

/// Verified random graphs of about `cfg.max_nodes` nodes or fewer; shrinks by dropping choices.
pub fn graph_strategy(cfg: GenConfig) -> impl Strategy<Value = Graph> {
    let n = cfg.max_nodes.max(1);
    prop::collection::vec((0..Choice::ALL.len(), any::<u64>()), 1..=n).prop_map(move |raw| {
        let choices: Vec<(Choice, u64)> = raw.into_iter().map(|(c, seed)| (Choice::ALL[c], seed)).collect();
        build_graph(&cfg, &choices)
    })
}

/// Random graphs with static and symbolic dims (bind symbols to >= [`irc_check::random::MIN_BINDING`] to run them).
pub fn random_graph(max_nodes: usize) -> impl Strategy<Value = Graph> {
    graph_strategy(GenConfig::symbolic(max_nodes))
}

/// Random graphs whose dims are all static, ready to run on concrete inputs.
pub fn random_static_graph(max_nodes: usize) -> impl Strategy<Value = Graph> {
    graph_strategy(GenConfig::static_dims(max_nodes))
}
