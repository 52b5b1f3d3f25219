//! Graph-to-graph passes over the tensor IR.

pub mod autodiff;
mod dce;
mod emit;
pub mod opt;
pub mod optim;
pub mod search;

pub use autodiff::{AutodiffError, differentiate, grad_output_name};
pub use dce::eliminate_dead_code;
pub use optim::{LR_INPUT, Optimizer, STEP_INPUT, TrainStep, build_train_step, next_name, state_name};
