//! Shared helpers for irc's cross-crate tests: a random graph generator for property tests and
//! hand-written fixture graphs. The tests themselves live in `tests/`.

mod data;
pub mod fixtures;
pub mod gradcheck;
pub mod random;

pub use data::{data, sizes};
pub use gradcheck::{GradCheck, check_gradients};
pub use irc_ir::Rng;
pub use random::{
    Choice, GenConfig, MIN_BINDING, SYMBOLS, build_graph, graph_strategy, random_graph, random_static_graph,
};
