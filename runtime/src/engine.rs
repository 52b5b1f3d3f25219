//! One way to run a graph whatever the backend: the reference interpreter, or kernels compiled for the CPU.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use irc_codegen::kir::Program;
use irc_ir::Graph;

use crate::{CpuBackend, Executable, RunError, Tensor, interpret};

/// Where graphs run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BackendKind {
    /// The reference interpreter: every op on its own, in f64 rounded per op; the oracle.
    Reference,
    /// Fused kernels compiled to native code with Cranelift, threaded over the cores.
    #[default]
    Cpu,
}

impl BackendKind {
    pub const ALL: [BackendKind; 2] = [BackendKind::Reference, BackendKind::Cpu];

    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Reference => "reference",
            BackendKind::Cpu => "cpu",
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
}

impl Engine {
    /// Prepares `g` for `kind`: nothing to do for the interpreter; lowering and compiling for the CPU.
    pub fn new(g: &Graph, kind: BackendKind) -> Result<Engine, RunError> {
        Ok(match kind {
            BackendKind::Reference => Engine::Reference(Box::new(g.clone())),
            BackendKind::Cpu => Engine::Cpu(Box::new(Executable::compile(g, CpuBackend::default())?)),
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
        }
    }

    /// The kernels, for backends that compile.
    pub fn program(&self) -> Option<&Program> {
        match self {
            Engine::Reference(_) => None,
            Engine::Cpu(exe) => Some(exe.program()),
        }
    }
}
