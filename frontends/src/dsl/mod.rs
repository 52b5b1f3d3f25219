//! The Rust DSL: build irc graphs with tensor handles and ordinary operators.
//!
//! A [`ModelBuilder`] owns the graph; [`Var`] handles refer to its nodes. Operators (`+ - * /`,
//! unary `-`) and methods add nodes and return new handles, broadcasting numpy-style and typing
//! scalar operands like the tensor beside them. Nothing panics on a bad model: the first failed
//! call is recorded (op, reason, input types, scope and source location) and yields a poisoned
//! handle that later ops pass through; [`ModelBuilder::check`] and [`ModelBuilder::finish`] return
//! it as a [`DslError`].
//!
//! ```
//! use irc_frontends::dsl::ModelBuilder;
//! use irc_ir::{DType, Init};
//!
//! let b = ModelBuilder::new("affine");
//! let x = b.input("x", DType::F32, ["B", "16"]);
//! let (w, bias) = b.scope("proj", |b| {
//!     (b.param("weight", DType::F32, [16, 4], Init::Uniform { bound: 0.25 }), b.param("bias", DType::F32, [4], Init::Zeros))
//! });
//! let y = (x.matmul(&w) + &bias).relu() * 0.5;
//! let g = b.finish(&[("y", &y)]).unwrap();
//! assert_eq!(g.ty(g.outputs()[0].node).to_string(), "f32[B, 4]");
//! assert!(g.params().any(|(_, name, _)| name == "proj.weight"));
//!
//! // A shape error does not panic; `finish` reports it.
//! let b = ModelBuilder::new("bad");
//! let x = b.input("x", DType::F32, ["B", "T", "64"]);
//! let w = b.param("w", DType::F32, [32, 16], Init::Zeros);
//! let y = x.matmul(&w).exp();
//! let err = b.finish(&[("y", &y)]).unwrap_err();
//! assert!(err.to_string().starts_with("matmul: inner dimensions differ: 64 vs 32; inputs: f32[B, T, 64], f32[32, 16]"));
//! ```

mod builder;
mod error;
mod ops;
mod spec;
mod var;

pub use builder::{ModelBuilder, ScopeGuard};
pub use error::{DslError, ErrorContext};
pub use ops::{Operand, where_};
pub use spec::{Axes, DimSpec, ShapeSpec, axis_index};
pub use var::Var;
