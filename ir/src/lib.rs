//! irc's tensor IR: element types, shapes with symbolic dims, the closed primitive op set, graphs,
//! the verifier, the `.irc` text format and DOT rendering.

mod dot;
mod dtype;
mod error;
pub mod fused;
mod graph;
mod infer;
mod json_float;
mod op;
mod rng;
mod shape;
mod specialize;
pub mod text;

pub use dot::to_dot;
pub use dtype::{DType, fmax, fmin, round_to};
pub use error::IrError;
pub use fused::expand_fused;
pub use graph::{Graph, Node, NodeId, Output};
pub use infer::{broadcast_shapes, infer_type};
pub use op::{BINARY_NAMES, BinaryOp, Init, Op, REDUCE_NAMES, ReduceOp, UNARY_NAMES, UnaryOp};
pub use rng::Rng;
pub use shape::{Dim, Shape, TensorType, is_symbol_name};
pub use specialize::specialize;
pub use text::{ParseError, parse, print};
