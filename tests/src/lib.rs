//! Shared helpers for irc's cross-crate tests: proptest strategies over the random graph generator, gradient
//! checks, and re-exports of `irc_check` (the generator, fixtures, the differential comparison). The tests
//! themselves live in `tests/`.

pub mod gradcheck;
pub mod random;

pub use gradcheck::{GradCheck, check_gradients};
pub use irc_check::fixtures;
pub use irc_check::random::{Choice, GenConfig, MIN_BINDING, SYMBOLS, build_graph};
pub use irc_ir::Rng;
pub use random::{graph_strategy, random_graph, random_static_graph};
