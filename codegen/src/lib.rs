//! Code generation: the kernel IR that every backend reads, lowering from tensor-IR graphs to kernels,
//! and the code generators.

pub mod cranelift;
pub mod kir;
pub mod plan;

pub use plan::{MemoryPlan, plan_memory};
