//! Code generation: the kernel IR that every backend reads, lowering from tensor-IR graphs to kernels,
//! and the code generators.

pub mod cranelift;
pub mod kir;
pub mod lower;
pub mod plan;
pub mod ptx;
pub mod wgsl;

pub use lower::{LowerError, LowerOptions, WideTile, lower, lower_with};
pub use plan::{MemoryPlan, plan_memory, plan_program};
