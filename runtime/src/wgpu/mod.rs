//! The wgpu backend: kernels as WGSL compute shaders (`irc_codegen::wgsl`) run on any WebGPU adapter,
//! a CPU one (Mesa's lavapipe) included. Buffers live on the device: inputs are uploaded once per run,
//! resident params stay there between runs, and only outputs come back. Launches are recorded into one
//! command encoder and submitted when a result is read (see docs/WGPU.md).

mod convert;
mod device;
mod launch;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use irc_codegen::LowerOptions;
use irc_codegen::kir::Kernel;
use irc_codegen::wgsl::{BindingPlan, WgslError, WgslKernel, compile_wgsl, supports};
use irc_ir::DType;
use thiserror::Error;

pub use device::{PORTABLE_STORAGE_BUFFERS, WgpuOptions};

use crate::backend::{Arg, HostBuffer, KernelBackend, tensor_of};
use crate::{RunError, Tensor};
use device::Gpu;
use launch::Pipeline;

/// Lanes per block the GPU schedule uses at most: the WebGPU default workgroup limit.
pub const MAX_LANES: u32 = 256;

/// Every device element is one 32-bit word, except native f16 ones.
const WORD: usize = 4;
/// A native f16 element (`shader-f16`).
const HALF: usize = 2;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum WgpuError {
    #[error(
        "no GPU adapter found ({0}); for a CPU adapter install Mesa's lavapipe: \
         `apt-get install mesa-vulkan-drivers libvulkan1`"
    )]
    NoAdapter(String),
    #[error("device: {0}")]
    Device(String),
    #[error("not supported by the wgpu backend: {0}")]
    Unsupported(String),
    /// A size, index range or buffer exceeds what the device or the i32 index arithmetic allows.
    #[error("limit exceeded: {0}")]
    Limit(String),
    #[error("{0}")]
    Codegen(#[from] WgslError),
}

/// Runs kernels on a WebGPU device. Clones share the device, its queue and the pipeline cache.
#[derive(Clone)]
pub struct WgpuBackend {
    gpu: Arc<Gpu>,
    /// Compiled pipelines by a hash of their WGSL text.
    pipelines: Arc<Mutex<HashMap<u64, Arc<Pipeline>>>>,
    /// Launches recorded since the last submit.
    pending: Arc<Mutex<Pending>>,
    next_id: Arc<AtomicU64>,
}

impl std::fmt::Debug for WgpuBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WgpuBackend({} on {:?})", self.gpu.info.name, self.gpu.info.backend)
    }
}

/// Work recorded but not yet submitted.
#[derive(Default)]
struct Pending {
    encoder: Option<wgpu::CommandEncoder>,
    launches: usize,
}

/// Launches recorded before a submit, so that recorded work and its temporary buffers stay bounded.
const MAX_PENDING_LAUNCHES: usize = 256;

/// Device memory: whole storage buffers, identified so a launch can bind each buffer once.
pub struct WgpuBuffer {
    id: u64,
    buffer: wgpu::Buffer,
    /// Elements: 32-bit words, or with `half` native f16 values.
    len: usize,
    half: bool,
}

impl WgpuBuffer {
    fn elem_bytes(&self) -> usize {
        if self.half { HALF } else { WORD }
    }
}

/// A kernel compiled for this backend: its shader under the one-binding-per-argument plan (validated at
/// compile time, what `--dump-kernels` writes) and pipelines per binding plan met at launch.
pub struct WgpuKernel {
    pub wgsl: WgslKernel,
    variants: Mutex<HashMap<BindingPlan, Arc<Pipeline>>>,
}

impl WgpuBackend {
    /// Opens the first adapter wgpu finds (`WGPU_BACKEND` and `WGPU_ADAPTER_NAME` select one).
    pub fn new() -> Result<WgpuBackend, WgpuError> {
        WgpuBackend::with_options(&WgpuOptions::default())
    }

    pub fn with_options(opts: &WgpuOptions) -> Result<WgpuBackend, WgpuError> {
        Ok(WgpuBackend {
            gpu: Arc::new(Gpu::open(opts)?),
            pipelines: Arc::default(),
            pending: Arc::default(),
            next_id: Arc::default(),
        })
    }

    /// The adapter's name and API, e.g. `llvmpipe (LLVM 15.0.6, 256 bits) (Vulkan)`.
    pub fn adapter_name(&self) -> String {
        format!("{} ({:?})", self.gpu.info.name, self.gpu.info.backend)
    }

    /// Lanes per block: invocations per workgroup, at most [`MAX_LANES`] and a power of two.
    pub fn max_lanes(&self) -> u32 {
        let l = &self.gpu.limits;
        let max = MAX_LANES.min(l.max_compute_invocations_per_workgroup).min(l.max_compute_workgroup_size_x).max(1);
        1 << max.ilog2()
    }

    /// Whether f16 tensors live on the device as native f16 (the adapter has `shader-f16`, and
    /// [`WgpuOptions::word_f16`] did not turn it off).
    pub fn native_f16(&self) -> bool {
        self.gpu.native_f16
    }

    /// Whether `dtype` is held as native f16 on this device.
    fn half(&self, dtype: DType) -> bool {
        self.gpu.native_f16 && dtype == DType::F16
    }

    /// Pipelines compiled so far (distinct WGSL texts).
    pub fn cached_pipelines(&self) -> usize {
        self.pipelines.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// A zero-filled storage buffer of `len` elements (at least one), words or with `half` native f16
    /// values (its bytes rounded up to whole words, as copies move whole words).
    fn buffer(&self, len: usize, half: bool) -> Result<WgpuBuffer, WgpuError> {
        let len = len.max(1);
        let bytes = (len * if half { HALF } else { WORD }).next_multiple_of(WORD) as u64;
        let max = self.gpu.limits.max_storage_buffer_binding_size.min(self.gpu.limits.max_buffer_size);
        if bytes > max {
            return Err(WgpuError::Limit(format!("a buffer of {bytes} bytes exceeds the device's {max}")));
        }
        let buffer = self.gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: bytes,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Ok(WgpuBuffer { id: self.next_id.fetch_add(1, Ordering::Relaxed), buffer, len, half })
    }

    /// Submits the recorded launches.
    fn flush(&self) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(encoder) = pending.encoder.take() {
            self.gpu.queue.submit([encoder.finish()]);
        }
        pending.launches = 0;
    }

    /// Reads `bytes` bytes at byte `offset` of `buf` after all recorded work (both multiples of a word, or
    /// the buffer's rounded-up end).
    fn read_bytes(&self, buf: &WgpuBuffer, offset: usize, bytes: usize) -> Result<Vec<u8>, WgpuError> {
        self.flush();
        let bytes = bytes.max(1).next_multiple_of(WORD) as u64;
        let staging = self.gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("irc download"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self.gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
        encoder.copy_buffer_to_buffer(&buf.buffer, offset as u64, &staging, 0, bytes);
        self.gpu.queue.submit([encoder.finish()]);
        let (tx, rx) = std::sync::mpsc::channel();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.gpu.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| WgpuError::Device(e.to_string()))?;
        self.gpu.take_error()?;
        rx.recv().map_err(|e| WgpuError::Device(e.to_string()))?.map_err(|e| WgpuError::Device(e.to_string()))?;
        let view = staging.slice(..).get_mapped_range().map_err(|e| WgpuError::Device(e.to_string()))?;
        let out = view.to_vec();
        drop(view);
        staging.unmap();
        Ok(out)
    }
}

impl KernelBackend for WgpuBackend {
    type Compiled = WgpuKernel;
    type Buffer = WgpuBuffer;

    fn compile(&self, kernel: &Kernel) -> Result<WgpuKernel, RunError> {
        if let Some(l) = kernel.lanes
            && l.count > self.max_lanes()
        {
            let msg =
                format!("kernel `{}` has {} lanes; workgroups hold at most {}", kernel.name, l.count, self.max_lanes());
            return Err(WgpuError::Limit(msg).into());
        }
        let wgsl = compile_wgsl(kernel, &BindingPlan::per_arg(kernel, self.native_f16())).map_err(WgpuError::from)?;
        Ok(WgpuKernel { wgsl, variants: Mutex::default() })
    }

    /// The GPU schedule: reductions as blocks with shared-memory combines, matmuls tiled through shared
    /// memory, with as many lanes as a workgroup may have (at most 256, the WebGPU default).
    fn lower_options(&self) -> LowerOptions {
        LowerOptions::gpu(self.max_lanes())
    }

    fn elem_bytes(&self, dtype: DType) -> usize {
        if self.half(dtype) { HALF } else { WORD }
    }

    /// The arena is one binding of words: native f16 temps get buffers of their own.
    fn in_arena(&self, dtype: DType) -> bool {
        !self.half(dtype)
    }

    fn upload(&self, host: HostBuffer) -> Result<WgpuBuffer, RunError> {
        if self.half(host.dtype) {
            // The host holds f16 as little-endian f16 bits already, as does the device.
            let mut bytes = host.bytes().to_vec();
            bytes.resize(bytes.len().max(1).next_multiple_of(WORD), 0);
            let buf = self.buffer(host.numel(), true)?;
            self.gpu.queue.write_buffer(&buf.buffer, 0, &bytes);
            return Ok(buf);
        }
        let words = convert::to_words(&host)?;
        let buf = self.buffer(words.len(), false)?;
        self.gpu.queue.write_buffer(&buf.buffer, 0, bytemuck::cast_slice(&words));
        Ok(buf)
    }

    fn alloc(&self, dtype: DType, numel: usize) -> Result<WgpuBuffer, RunError> {
        if !supports(dtype) {
            return Err(WgpuError::Unsupported(format!("{dtype} tensors")).into());
        }
        Ok(self.buffer(numel, self.half(dtype))?)
    }

    fn alloc_arena(&self, bytes: usize) -> Result<WgpuBuffer, RunError> {
        Ok(self.buffer(bytes.div_ceil(WORD), false)?)
    }

    fn download(&self, buf: &WgpuBuffer, offset: usize, dtype: DType, shape: &[usize]) -> Result<Tensor, RunError> {
        let n: usize = shape.iter().product();
        let size = buf.elem_bytes();
        if offset / size + n > buf.len || buf.half != self.half(dtype) {
            return Err(WgpuError::Device(format!("download of {n} {dtype} elements past the end of a buffer")).into());
        }
        let bytes = self.read_bytes(buf, offset, n * size)?;
        if buf.half {
            return Ok(tensor_of(dtype, shape, &bytes[..n * HALF]));
        }
        let words: Vec<u32> = bytes.chunks_exact(WORD).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]])).collect();
        Ok(convert::from_words(dtype, shape, &words))
    }

    unsafe fn launch(
        &self,
        compiled: &WgpuKernel,
        kernel: &Kernel,
        args: &[Arg<'_, WgpuBuffer>],
        sizes: &[i64],
    ) -> Result<(), RunError> {
        self.record(compiled, kernel, args, sizes)?;
        self.gpu.take_error()?;
        Ok(())
    }

    fn sync(&self) -> Result<(), RunError> {
        self.flush();
        self.gpu.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| WgpuError::Device(e.to_string()))?;
        Ok(self.gpu.take_error()?)
    }
}
