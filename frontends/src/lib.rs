//! irc front ends: the Rust [`dsl`] for building graphs, the [`nn`] composites built from primitive
//! ops, and the [`zoo`] of named, configurable models. `docs/DSL.md` is the guide.

pub mod bench;
pub mod dsl;
pub mod nn;
pub mod zoo;

pub use dsl::{DslError, ModelBuilder, Var};
pub use zoo::{ZooError, build, zoo_names};
