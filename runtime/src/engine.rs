//! One way to run a graph whatever the backend: the reference interpreter, kernels compiled for the CPU,
//! WGSL kernels on a WebGPU device, or PTX kernels on a CUDA device.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use irc_codegen::kir::Program;
use irc_ir::Graph;

use crate::{CpuBackend, CudaBackend, Executable, RunError, Tensor, WgpuBackend, interpret};

/// Where graphs run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BackendKind {
    /// The reference interpreter: every op on its own, in f64 rounded per op; the oracle.
    Reference,
    /// Fused kernels compiled to native code with Cranelift, threaded over the cores.
    #[default]
    Cpu,
    /// Fused kernels as WGSL compute shaders on a WebGPU adapter (any GPU, or Mesa's lavapipe on the CPU).
    Wgpu,
    /// Fused kernels as PTX on an NVIDIA GPU through the CUDA driver (sm_80 or newer).
    Cuda,
}

impl BackendKind {
    pub const ALL: [BackendKind; 4] = [BackendKind::Reference, BackendKind::Cpu, BackendKind::Wgpu, BackendKind::Cuda];

    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Reference => "reference",
            BackendKind::Cpu => "cpu",
            BackendKind::Wgpu => "wgpu",
            BackendKind::Cuda => "cuda",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackendKind {
    type Err = String;
    fn from_str(s: &str) -> Result<BackendKind, String> {
        BackendKind::ALL.into_iter().find(|b| b.name() == s).ok_or_else(|| {
            format!("unknown backend `{s}` (available: {})", BackendKind::ALL.map(BackendKind::name).join(", "))
        })
    }
}

/// A graph prepared for one backend.
pub enum Engine {
    Reference(Box<Graph>),
    Cpu(Box<Executable<CpuBackend>>),
    Wgpu(Box<Executable<WgpuBackend>>),
    Cuda(Box<Executable<CudaBackend>>),
}

impl Engine {
    /// Prepares `g` for `kind`: nothing to do for the interpreter; lowering and compiling for the CPU.
    pub fn new(g: &Graph, kind: BackendKind) -> Result<Engine, RunError> {
        Ok(match kind {
            BackendKind::Reference => Engine::Reference(Box::new(g.clone())),
            BackendKind::Cpu => Engine::Cpu(Box::new(Executable::compile(g, CpuBackend::default())?)),
            BackendKind::Wgpu => Engine::Wgpu(Box::new(Executable::compile(g, WgpuBackend::new()?)?)),
            BackendKind::Cuda => Engine::Cuda(Box::new(Executable::compile(g, CudaBackend::shared()?)?)),
        })
    }

    /// Runs on `inputs` and `params`; outputs in graph order.
    pub fn run(
        &self,
        inputs: &HashMap<String, Tensor>,
        params: &HashMap<String, Tensor>,
    ) -> Result<Vec<Tensor>, RunError> {
        match self {
            Engine::Reference(g) => interpret(g, inputs, params),
            Engine::Cpu(exe) => exe.run(inputs, params),
            Engine::Wgpu(exe) => exe.run(inputs, params),
            Engine::Cuda(exe) => exe.run(inputs, params),
        }
    }

    /// The kernels, for backends that compile.
    pub fn program(&self) -> Option<&Program> {
        match self {
            Engine::Reference(_) => None,
            Engine::Cpu(exe) => Some(exe.program()),
            Engine::Wgpu(exe) => Some(exe.program()),
            Engine::Cuda(exe) => Some(exe.program()),
        }
    }
}
