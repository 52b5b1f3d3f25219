use thiserror::Error;

/// An ill-formed graph. Messages name the node, its op and its input types.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum IrError {
    #[error("node %{node} ({op}): {msg}; inputs: {inputs}")]
    Type { node: usize, op: &'static str, inputs: String, msg: String },
    #[error("node %{node} ({op}): input %{input} is not defined before it")]
    ForwardRef { node: usize, op: &'static str, input: usize },
    #[error("node %{node} ({op}): declared type {declared} but the op produces {inferred}")]
    TypeMismatch { node: usize, op: &'static str, declared: String, inferred: String },
    #[error("{kind} name `{name}` is used twice")]
    DuplicateName { kind: &'static str, name: String },
    #[error("output `{name}` refers to node %{node}, which does not exist")]
    BadOutput { name: String, node: usize },
    #[error("graph has no outputs")]
    NoOutputs,
}
