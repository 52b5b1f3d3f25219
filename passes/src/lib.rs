//! Graph-to-graph passes over the tensor IR.

pub mod autodiff;
mod dce;

pub use autodiff::{AutodiffError, differentiate, grad_output_name};
pub use dce::eliminate_dead_code;
