//! Graph-to-graph passes over the tensor IR.

mod dce;

pub use dce::eliminate_dead_code;
