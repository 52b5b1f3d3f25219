//! WGSL code generation: one compute shader per kernel of the kernel IR, validated with naga before any
//! GPU API sees it.
//!
//! Device data model (see docs/WGPU.md): every element is one 32-bit word. f32 is f32; f16 and bf16 are
//! f32 words holding values rounded to their format (kernels compute them in f32 anyway); i32 and i64 are
//! i32 (WGSL has no i64: index arithmetic runs in i32, and the runtime checks sizes and integer data fit);
//! bool is a u32 0 or 1. f64 is rejected. Storage bindings are `array<u32>` read through `bitcast`, so
//! one binding can hold buffers of several dtypes at word offsets (the executor's arena). With the
//! `shader-f16` feature, f16 buffers instead live in bindings of their own, `array<f16>` (two bytes per
//! element): loads widen to f32, stores narrow values already rounded to f16, so results are the same.
//!
//! Which binding each buffer argument reads, and at which word offset, is a [`BindingPlan`]: the runtime
//! picks it per launch from the device buffers the arguments live in, and the offsets arrive in the
//! uniform block with the sizes, so the shader text depends only on the plan, not on the run's sizes.

mod emit;
mod prelude;
mod validate;

use irc_ir::DType;
use thiserror::Error;

use crate::kir::{Access, Kernel};

pub use validate::validate_wgsl;

/// Invocations per workgroup of kernels whose grid points are single invocations.
pub const WORKGROUP_SIZE: u32 = 64;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum WgslError {
    /// The kernel uses something WGSL cannot express (f64).
    #[error("kernel `{kernel}`: not supported by the wgpu backend: {msg}")]
    Unsupported { kernel: String, msg: String },
    /// The kernel is malformed (an index out of range, an undeclared variable).
    #[error("kernel `{kernel}`: invalid: {msg}")]
    Invalid { kernel: String, msg: String },
    /// naga rejected the generated shader: a bug in this code generator.
    #[error("kernel `{kernel}`: generated WGSL does not validate:\n{diagnostic}\nshader excerpt:\n{excerpt}")]
    Naga { kernel: String, diagnostic: String, excerpt: String },
}

/// Where each buffer argument of a kernel lives in the shader's storage bindings.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BindingPlan {
    /// For each buffer argument, the storage binding (0-based, in order of `slots`) that holds it.
    pub arg_slot: Vec<usize>,
    /// For each storage binding, whether the kernel writes it.
    pub writable: Vec<bool>,
    /// For each storage binding, whether it holds native f16 elements (`array<f16>`, which needs the
    /// `shader-f16` feature) instead of 32-bit words. Only f16 arguments may live in such a binding.
    pub half: Vec<bool>,
}

impl BindingPlan {
    /// One binding per argument, writable where the kernel writes (what `--dump-kernels` shows); with
    /// `native_f16`, f16 arguments as `array<f16>`.
    pub fn per_arg(k: &Kernel, native_f16: bool) -> BindingPlan {
        BindingPlan {
            arg_slot: (0..k.buffers.len()).collect(),
            writable: k.buffers.iter().map(|b| b.access == Access::Write).collect(),
            half: k.buffers.iter().map(|b| native_f16 && b.dtype == DType::F16).collect(),
        }
    }
}

/// The layout of the uniform block a launch passes: `sizes` first, then each argument's word offset in
/// its binding, then the grid's total point count. Each entry is one i32.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UniformLayout {
    pub sizes: usize,
    pub args: usize,
}

impl UniformLayout {
    pub fn of(k: &Kernel) -> UniformLayout {
        UniformLayout { sizes: k.sizes.len(), args: k.buffers.len() }
    }

    pub fn size_entry(&self, i: usize) -> usize {
        i
    }

    pub fn offset_entry(&self, arg: usize) -> usize {
        self.sizes + arg
    }

    pub fn total_entry(&self) -> usize {
        self.sizes + self.args
    }

    /// Entries, rounded up to whole `vec4<i32>`s.
    pub fn entries(&self) -> usize {
        (self.total_entry() + 1).div_ceil(4) * 4
    }
}

/// A kernel as WGSL, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct WgslKernel {
    pub name: String,
    pub source: String,
    pub plan: BindingPlan,
    pub uniforms: UniformLayout,
    /// Invocations per workgroup: the kernel's lanes (one workgroup per grid point), else
    /// [`WORKGROUP_SIZE`] grid points per workgroup.
    pub workgroup_size: u32,
}

/// Emits and validates the shader of `k` under binding `plan`.
pub fn compile_wgsl(k: &Kernel, plan: &BindingPlan) -> Result<WgslKernel, WgslError> {
    let source = emit::emit_kernel(k, plan)?;
    validate_wgsl(&k.name, &source)?;
    Ok(WgslKernel {
        name: k.name.clone(),
        source,
        plan: plan.clone(),
        uniforms: UniformLayout::of(k),
        workgroup_size: k.lanes.map_or(WORKGROUP_SIZE, |l| l.count),
    })
}

/// Whether WGSL kernels can hold `dtype` (everything but f64).
pub fn supports(dtype: DType) -> bool {
    dtype != DType::F64
}
