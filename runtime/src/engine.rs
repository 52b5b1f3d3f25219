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

/// A graph prepared for one backend, with the params it keeps between runs.
pub enum Engine {
    Reference(Box<Interpreted>),
    Cpu(Box<Executable<CpuBackend>>),
    Wgpu(Box<Executable<WgpuBackend>>),
    Cuda(Box<Executable<CudaBackend>>),
}

/// `$compiled` with `$exe` bound to the executable of whichever backend compiled the engine (they differ
/// only in their type), or for the interpreter the arm `$reference => $value`.
macro_rules! dispatch {
    ($engine:expr, $exe:ident => $compiled:expr, $reference:pat => $value:expr $(,)?) => {
        match $engine {
            $reference => $value,
            Engine::Cpu($exe) => $compiled,
            Engine::Wgpu($exe) => $compiled,
            Engine::Cuda($exe) => $compiled,
        }
    };
}

/// A graph for the reference interpreter, with resident params (host tensors).
pub struct Interpreted {
    graph: Graph,
    resident: HashMap<String, Tensor>,
}

impl Engine {
    /// Prepares `g` for `kind`: nothing to do for the interpreter; lowering and compiling for the CPU.
    pub fn new(g: &Graph, kind: BackendKind) -> Result<Engine, RunError> {
        Ok(match kind {
            BackendKind::Reference => {
                Engine::Reference(Box::new(Interpreted { graph: g.clone(), resident: HashMap::new() }))
            }
            BackendKind::Cpu => Engine::Cpu(Box::new(Executable::compile(g, CpuBackend::default())?)),
            BackendKind::Wgpu => Engine::Wgpu(Box::new(Executable::compile(g, WgpuBackend::new()?)?)),
            BackendKind::Cuda => Engine::Cuda(Box::new(Executable::compile(g, CudaBackend::shared()?)?)),
        })
    }

    /// Runs on `inputs` and `params` (falling back to resident params); outputs in graph order.
    pub fn run(
        &self,
        inputs: &HashMap<String, Tensor>,
        params: &HashMap<String, Tensor>,
    ) -> Result<Vec<Tensor>, RunError> {
        dispatch!(self, exe => exe.run(inputs, params),
            Engine::Reference(r) => {
                if r.resident.is_empty() {
                    return interpret(&r.graph, inputs, params);
                }
                let mut all = r.resident.clone();
                all.extend(params.iter().map(|(k, v)| (k.clone(), v.clone())));
                interpret(&r.graph, inputs, &all)
            },
        )
    }

    /// Keeps `params` resident (in backend memory) for later runs.
    pub fn set_params(&mut self, params: &HashMap<String, Tensor>) -> Result<(), RunError> {
        dispatch!(self, exe => exe.try_set_params(params),
            Engine::Reference(r) => {
                let declared = |name: &String| r.graph.params().any(|(_, n, _)| n == name);
                let kept: Vec<_> = params.iter().filter(|(n, _)| declared(n)).collect();
                r.resident.extend(kept.into_iter().map(|(k, v)| (k.clone(), v.clone())));
                Ok(())
            },
        )
    }

    /// Runs on `inputs` with the resident params and makes each output named in `updates` (output name
    /// to param name) that param's new resident value; returns the other outputs by name.
    pub fn run_updating(
        &mut self,
        inputs: &HashMap<String, Tensor>,
        updates: &HashMap<String, String>,
    ) -> Result<Vec<(String, Tensor)>, RunError> {
        dispatch!(self, exe => exe.run_updating(inputs, updates),
            Engine::Reference(r) => {
                let values = interpret(&r.graph, inputs, &r.resident)?;
                let mut rest = Vec::new();
                for (o, value) in r.graph.outputs().iter().zip(values) {
                    match updates.get(&o.name) {
                        Some(param) => {
                            r.resident.insert(param.clone(), value);
                        }
                        None => rest.push((o.name.clone(), value)),
                    }
                }
                Ok(rest)
            },
        )
    }

    /// The resident value of param `name`, copied to the host; `None` if it has none.
    pub fn param(&self, name: &str) -> Option<Result<Tensor, RunError>> {
        dispatch!(self, exe => exe.resident_param(name), Engine::Reference(r) => r.resident.get(name).cloned().map(Ok))
    }

    /// Seconds each of `runs` passes over the compiled kernels takes after `warmup` (see
    /// [`Executable::time_kernels`]); `None` for the interpreter, which compiles nothing.
    pub fn time_kernels(
        &self,
        inputs: &HashMap<String, Tensor>,
        params: &HashMap<String, Tensor>,
        warmup: usize,
        runs: usize,
    ) -> Option<Result<Vec<f64>, RunError>> {
        dispatch!(self, exe => Some(exe.time_kernels(inputs, params, warmup, runs)), Engine::Reference(_) => None)
    }

    /// Each launch's median seconds (see [`Executable::profile_launches`]); `None` for the interpreter.
    pub fn profile_launches(
        &self,
        inputs: &HashMap<String, Tensor>,
        params: &HashMap<String, Tensor>,
        warmup: usize,
        runs: usize,
    ) -> Option<Result<Vec<f64>, RunError>> {
        dispatch!(self, exe => Some(exe.profile_launches(inputs, params, warmup, runs)), Engine::Reference(_) => None)
    }

    /// The kernels, for backends that compile.
    pub fn program(&self) -> Option<&Program> {
        dispatch!(self, exe => Some(exe.program()), Engine::Reference(_) => None)
    }
}
