//! Why a graph could not run on the given values. Each message is one line and names the input,
//! parameter or node at fault.

use irc_ir::IrError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RunError {
    #[error("invalid graph: {0}")]
    InvalidGraph(#[from] IrError),
    /// `kind` is `input` or `param`; `expected` lists the graph's declared names and types.
    #[error("missing {kind} `{name}` (the graph expects {kind}s: {expected})")]
    Missing { kind: &'static str, name: String, expected: String },
    #[error("unexpected input `{name}`: the graph has no such input (inputs: {expected})")]
    UnexpectedInput { name: String, expected: String },
    #[error("{kind} `{name}` is malformed: shape {shape:?} needs {need} values but it holds {len}")]
    MalformedTensor { kind: &'static str, name: String, shape: Vec<usize>, need: String, len: usize },
    #[error("{kind} `{name}` expects {expected} but got {got}")]
    DTypeMismatch { kind: &'static str, name: String, expected: String, got: String },
    #[error("{kind} `{name}` expects {expected} but got {got}")]
    ShapeMismatch { kind: &'static str, name: String, expected: String, got: String },
    #[error("symbol `{symbol}` is {first} from {first_at} but {second_at} implies {second}")]
    SymbolConflict { symbol: String, first: usize, first_at: String, second: usize, second_at: String },
    /// `at` is `node %3 (iota)` or `param `w``.
    #[error("{at}: symbol `{symbol}` is not bound by any input")]
    UnboundSymbol { at: String, symbol: String },
    #[error("{at}: dimension `{dim}` is negative when {symbol} = {value}")]
    NegativeDim { at: String, dim: String, symbol: String, value: usize },
    #[error("{at}: index {index} is out of range for axis {axis} of size {size}")]
    IndexOutOfRange { at: String, index: i64, axis: usize, size: usize },
    #[error("{at}: integer division by zero")]
    DivisionByZero { at: String },
    #[error("{at}: slice {start}..{end} is out of range for axis {axis} of size {size}")]
    SliceOutOfRange { at: String, start: usize, end: usize, axis: usize, size: usize },
    #[error("param `{name}` has symbolic type {ty}; parameters need static shapes to be initialized")]
    SymbolicParam { name: String, ty: String },
    /// The graph could not be lowered to kernels (a bug in the lowering, not in the graph).
    #[error("lowering failed: {0}")]
    Lower(String),
    /// A kernel backend failed to compile or run a kernel; the message names the kernel.
    #[error("backend: {0}")]
    Backend(String),
    /// The wgpu backend could not start, compile or run (no adapter, a device limit, unsupported data).
    #[error("wgpu backend: {0}")]
    Wgpu(#[from] crate::wgpu::WgpuError),
    /// The CUDA backend could not start, compile or run (no driver, no device, a JIT or launch error).
    #[error("cuda backend: {0}")]
    Cuda(#[from] crate::cuda::CudaError),
}
