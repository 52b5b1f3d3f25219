//! The DSL's error type: the first failed call, with enough context to find it in the model code.

use std::fmt;

use irc_ir::IrError;
use thiserror::Error;

/// Where a failed DSL call happened: the composite calls it was nested in, the parameter scope and
/// the source location of the call.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ErrorContext {
    /// Enclosing composite calls, outermost first (`block > attention > softmax`).
    pub via: Vec<String>,
    /// The parameter scope at the time (`blocks.0.attn`); empty at the top level.
    pub scope: String,
    /// `file:line:column` of the user-facing call.
    pub location: String,
}

impl fmt::Display for ErrorContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if !self.via.is_empty() {
            parts.push(format!("in {}", self.via.join(" > ")));
        }
        if !self.scope.is_empty() {
            parts.push(format!("scope `{}`", self.scope));
        }
        if !self.location.is_empty() {
            parts.push(format!("at {}", self.location));
        }
        if parts.is_empty() { Ok(()) } else { write!(f, " ({})", parts.join(", ")) }
    }
}

/// Why a model could not be built. Only the first error of a builder is kept: later calls on the
/// poisoned handles it produced do nothing.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum DslError {
    /// An op rejected its inputs, e.g.
    /// `matmul: inner dimensions differ: 64 vs 32; inputs: f32[B, T, 64], f32[32, 16]`.
    #[error("{op}: {msg}; inputs: {inputs}{ctx}")]
    Op { op: String, msg: String, inputs: String, ctx: Box<ErrorContext> },
    /// Two inputs, or two parameters, with one name.
    #[error("{kind} name `{name}` is used twice{ctx}")]
    DuplicateName { kind: &'static str, name: String, ctx: Box<ErrorContext> },
    /// A handle from one builder was used with another.
    #[error("{op}: a handle comes from a different builder{ctx}")]
    ForeignHandle { op: String, ctx: Box<ErrorContext> },
    /// The builder was used after `finish`.
    #[error("{op}: the builder has already been finished{ctx}")]
    Finished { op: String, ctx: Box<ErrorContext> },
    /// `finish` was given no outputs, two outputs with one name, or the graph failed verification.
    #[error("invalid graph: {0}")]
    Graph(#[from] IrError),
}

impl DslError {
    /// The DSL call (op or composite) that failed, if the error is about one.
    pub fn op(&self) -> Option<&str> {
        match self {
            DslError::Op { op, .. } | DslError::ForeignHandle { op, .. } | DslError::Finished { op, .. } => Some(op),
            DslError::DuplicateName { .. } | DslError::Graph(_) => None,
        }
    }
}
