//! The CUDA backend: kernels as PTX (`irc_codegen::ptx`, targeting the device's compute capability),
//! JIT-compiled by the driver when a module is loaded, and launched on one stream. Buffers live on the
//! device in the host's element layout: inputs are uploaded once per run, resident params and constants
//! stay there between runs, and only outputs come back. Copies, launches and frees are ordered on the
//! stream; memory comes from the driver's stream-ordered allocator, never managed memory (docs/CUDA.md).
//!
//! The driver library is loaded at run time: without it [`CudaBackend::new`] returns
//! [`CudaError::NoDriver`] instead of touching any driver entry point.

mod device;
mod module;

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::ffi::c_void;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use cudarc::driver::{CudaSlice, DevicePtr, DriverError};
use irc_codegen::LowerOptions;
use irc_codegen::kir::Kernel;
use irc_codegen::ptx::{Gpu, PtxError, emit_kernel, entry_names, launch_shape};
use irc_ir::DType;
use thiserror::Error;

pub use device::{CudaOptions, target_for};

use crate::backend::{Arg, HostBuffer, KernelBackend, tensor_of};
use crate::{RunError, Tensor};
use device::Device;
use module::{Function, Module};

/// Lanes per block of the GPU schedule: 256, the block size the PTX launch contract is tuned for.
pub const MAX_LANES: u32 = 256;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum CudaError {
    #[error(
        "the CUDA driver library (libcuda.so.1) was not found: `--backend cuda` needs an NVIDIA GPU with its \
         driver installed (driver 580 / CUDA 13.0 or newer; the CUDA toolkit is not needed). Install the \
         NVIDIA driver, or use `--backend cpu` or `--backend wgpu` on this machine"
    )]
    NoDriver,
    #[error("no usable CUDA device: {0}")]
    NoDevice(String),
    #[error("unsupported GPU: {0}")]
    UnsupportedGpu(String),
    #[error("CUDA driver: {0}")]
    Driver(String),
    /// The driver's JIT rejected a module: a code generation bug; the log says where.
    #[error("the driver's PTX JIT rejected kernel `{kernel}`: {log}")]
    Jit { kernel: String, log: String },
    #[error("{0}")]
    Codegen(#[from] PtxError),
}

impl CudaError {
    fn driver(e: DriverError) -> CudaError {
        CudaError::Driver(e.to_string())
    }
}

/// Runs kernels on a CUDA device. Clones share the device, its stream and the module cache.
#[derive(Clone)]
pub struct CudaBackend {
    dev: Arc<Device>,
    /// Loaded modules by a hash of their PTX text.
    modules: Arc<Mutex<HashMap<u64, Arc<Module>>>>,
}

impl std::fmt::Debug for CudaBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CudaBackend({})", self.device_name())
    }
}

/// Device memory: one allocation of bytes.
pub struct CudaBuffer {
    mem: CudaSlice<u8>,
}

/// A kernel compiled for this backend: its PTX (what `--dump-kernels` writes), the entry's name and the
/// loaded function.
pub struct CudaKernel {
    pub ptx: String,
    pub entry: String,
    function: Function,
}

impl CudaBackend {
    /// Opens device 0.
    pub fn new() -> Result<CudaBackend, CudaError> {
        CudaBackend::with_options(&CudaOptions::default())
    }

    pub fn with_options(opts: &CudaOptions) -> Result<CudaBackend, CudaError> {
        Ok(CudaBackend { dev: Arc::new(Device::open(opts)?), modules: Arc::default() })
    }

    /// One backend on device 0 for the whole process (opened on first use), so that every executable
    /// shares its context, stream and module cache.
    pub fn shared() -> Result<CudaBackend, CudaError> {
        static SHARED: OnceLock<Result<CudaBackend, CudaError>> = OnceLock::new();
        SHARED.get_or_init(CudaBackend::new).clone()
    }

    /// The device's name, compute capability and PTX target, e.g. `NVIDIA H100 (9.0, sm_90)`.
    pub fn device_name(&self) -> String {
        let (major, minor) = self.dev.capability;
        format!("{} ({major}.{minor}, {})", self.dev.name, self.dev.gpu)
    }

    /// The PTX target of the device.
    pub fn target(&self) -> Gpu {
        self.dev.gpu
    }

    /// Modules loaded so far (distinct PTX texts).
    pub fn cached_modules(&self) -> usize {
        self.modules.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Free and total device memory in bytes, as the driver reports them.
    pub fn memory_info(&self) -> Result<(usize, usize), CudaError> {
        self.dev.ctx.mem_get_info().map_err(CudaError::driver)
    }

    /// Bytes per second of a 256 MiB device-to-device copy (bytes read + written), best of five: the
    /// memory roofline `irc bench` compares with.
    pub fn copy_bandwidth(&self) -> Result<f64, CudaError> {
        let bytes = 256 << 20;
        let (src, mut dst) = (self.zeros(bytes)?, self.zeros(bytes)?);
        let stream = &self.dev.stream;
        let mut best = f64::INFINITY;
        for _ in 0..5 {
            let start = std::time::Instant::now();
            stream.memcpy_dtod(&src.mem, &mut dst.mem).map_err(CudaError::driver)?;
            stream.synchronize().map_err(CudaError::driver)?;
            best = best.min(start.elapsed().as_secs_f64());
        }
        Ok(2.0 * bytes as f64 / best)
    }

    /// `bytes` zeroed bytes (at least one).
    fn zeros(&self, bytes: usize) -> Result<CudaBuffer, CudaError> {
        let mem = self.dev.stream.alloc_zeros::<u8>(bytes.max(1)).map_err(CudaError::driver)?;
        Ok(CudaBuffer { mem })
    }

    /// The module for `ptx`, from the cache or loaded.
    fn module(&self, ptx: &str, kernel: &str) -> Result<Arc<Module>, CudaError> {
        let mut hasher = DefaultHasher::new();
        ptx.hash(&mut hasher);
        let key = hasher.finish();
        let mut cache = self.modules.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(m) = cache.get(&key) {
            return Ok(m.clone());
        }
        let m = Module::load(&self.dev.ctx, ptx, kernel)?;
        cache.insert(key, m.clone());
        Ok(m)
    }

    fn launch_checked(
        &self,
        compiled: &CudaKernel,
        kernel: &Kernel,
        args: &[Arg<'_, CudaBuffer>],
        sizes: &[i64],
    ) -> Result<(), CudaError> {
        let name = &kernel.name;
        if args.len() != kernel.buffers.len() {
            return Err(CudaError::Driver(format!("kernel `{name}`: wrong number of buffer arguments")));
        }
        let shape = launch_shape(kernel, sizes)?;
        if shape.grid[0] == 0 {
            return Ok(());
        }
        let stream = &self.dev.stream;
        // Parameters by the PTX ABI: a global pointer per buffer argument, then an s64 per size.
        let mut pointers = Vec::with_capacity(args.len());
        for (a, decl) in args.iter().zip(&kernel.buffers) {
            let end = a.offset + a.len.max(1) * a.dtype.size_bytes();
            if end > a.mem.mem.len() {
                return Err(CudaError::Driver(format!(
                    "kernel `{name}`: argument `{}` ends at byte {end} of a {}-byte buffer",
                    decl.name,
                    a.mem.mem.len()
                )));
            }
            let (base, _record) = a.mem.mem.device_ptr(stream);
            pointers.push(base + a.offset as u64);
        }
        let mut sizes = sizes.to_vec();
        let mut params: Vec<*mut c_void> = pointers.iter_mut().map(|p| (p as *mut u64).cast()).collect();
        params.extend(sizes.iter_mut().map(|s| (s as *mut i64).cast::<c_void>()));
        self.dev.ctx.bind_to_thread().map_err(CudaError::driver)?;
        let (g, b) = (shape.grid, shape.block);
        // SAFETY: the function takes exactly these parameters (`emit_kernel` wrote its entry from the same
        // kernel), every pointer lies inside a live allocation for its argument's elements (checked above,
        // and the executor keeps them alive until the stream has run the launch: downloads and frees are
        // ordered after it on the same stream), and `params` outlives the call, which copies the values.
        unsafe {
            cudarc::driver::result::launch_kernel(
                compiled.function.raw,
                (g[0], g[1], g[2]),
                (b[0], b[1], b[2]),
                0,
                stream.cu_stream(),
                &mut params,
            )
        }
        .map_err(|e| CudaError::Driver(format!("launching kernel `{name}`: {e}")))
    }
}

impl KernelBackend for CudaBackend {
    type Compiled = CudaKernel;
    type Buffer = CudaBuffer;

    /// Writes the kernel's PTX for the device's target and loads it (or finds it in the module cache).
    fn compile(&self, kernel: &Kernel) -> Result<CudaKernel, RunError> {
        let ptx = emit_kernel(kernel, self.dev.gpu).map_err(CudaError::from)?;
        let entry = entry_names(std::slice::from_ref(kernel)).remove(0);
        let function = self.module(&ptx, &kernel.name)?.function(&entry)?;
        Ok(CudaKernel { ptx, entry, function })
    }

    /// The GPU schedule: reductions as blocks of 256 lanes with shared-memory combines, tiled matmuls.
    fn lower_options(&self) -> LowerOptions {
        LowerOptions::gpu(MAX_LANES)
    }

    fn upload(&self, host: HostBuffer) -> Result<CudaBuffer, RunError> {
        let bytes = host.bytes();
        if bytes.is_empty() {
            return Ok(self.zeros(host.dtype.size_bytes())?);
        }
        // A copy from pageable memory returns once the bytes are staged, so `host` may go.
        let mem = self.dev.stream.clone_htod(bytes).map_err(CudaError::driver)?;
        Ok(CudaBuffer { mem })
    }

    fn alloc(&self, dtype: DType, numel: usize) -> Result<CudaBuffer, RunError> {
        Ok(self.zeros(numel.max(1) * dtype.size_bytes())?)
    }

    fn alloc_arena(&self, bytes: usize) -> Result<CudaBuffer, RunError> {
        // SAFETY: the arena's contents are unspecified by contract: kernels read only bytes written before.
        let mem = unsafe { self.dev.stream.alloc::<u8>(bytes.max(1)) }.map_err(CudaError::driver)?;
        Ok(CudaBuffer { mem })
    }

    fn download(&self, buf: &CudaBuffer, offset: usize, dtype: DType, shape: &[usize]) -> Result<Tensor, RunError> {
        let n: usize = shape.iter().product::<usize>() * dtype.size_bytes();
        if offset + n > buf.mem.len() {
            return Err(CudaError::Driver(format!("download of {n} bytes past the end of a buffer")).into());
        }
        let mut host = vec![0u8; n];
        if n > 0 {
            let stream = &self.dev.stream;
            stream.memcpy_dtoh(&buf.mem.slice(offset..offset + n), &mut host).map_err(CudaError::driver)?;
            stream.synchronize().map_err(CudaError::driver)?;
        }
        Ok(tensor_of(dtype, shape, &host))
    }

    unsafe fn launch(
        &self,
        compiled: &CudaKernel,
        kernel: &Kernel,
        args: &[Arg<'_, CudaBuffer>],
        sizes: &[i64],
    ) -> Result<(), RunError> {
        Ok(self.launch_checked(compiled, kernel, args, sizes)?)
    }

    fn sync(&self) -> Result<(), RunError> {
        self.dev.stream.synchronize().map_err(CudaError::driver)?;
        // Errors of frees (recorded while dropping buffers) surface here.
        Ok(self.dev.ctx.check_err().map_err(CudaError::driver)?)
    }
}

#[cfg(test)]
mod tests;
