//! PTX modules loaded with the driver's JIT, and the functions inside them.

use std::ffi::{CString, c_void};
use std::sync::Arc;

use cudarc::driver::CudaContext;
use cudarc::driver::sys::{self, CUjit_option, CUresult};

use super::CudaError;

/// Bytes of the JIT's error log kept for an error message.
const LOG_BYTES: usize = 16 * 1024;

/// A loaded module; unloaded when the last kernel using it is dropped.
pub(super) struct Module {
    raw: sys::CUmodule,
    ctx: Arc<CudaContext>,
}

// SAFETY: a CUmodule is a driver handle usable from any thread once its context is current (every use
// binds the context first).
unsafe impl Send for Module {}
// SAFETY: as above; the driver synchronizes access to module handles.
unsafe impl Sync for Module {}

impl Drop for Module {
    fn drop(&mut self) {
        self.ctx.record_err(self.ctx.bind_to_thread());
        // SAFETY: `raw` was loaded in `ctx` and no function of it outlives `self` (functions hold an Arc).
        self.ctx.record_err(unsafe { sys::cuModuleUnload(self.raw).result() });
    }
}

/// One entry of a loaded module.
pub(super) struct Function {
    pub raw: sys::CUfunction,
    /// Keeps the module loaded while the function may be launched.
    _module: Arc<Module>,
}

// SAFETY: see `Module`: function handles are valid on any thread while their module is loaded.
unsafe impl Send for Function {}
// SAFETY: as above.
unsafe impl Sync for Function {}

impl Module {
    /// JIT-compiles `ptx` for the device of `ctx`; a rejected module gives the JIT's log.
    pub(super) fn load(ctx: &Arc<CudaContext>, ptx: &str, kernel: &str) -> Result<Arc<Module>, CudaError> {
        ctx.bind_to_thread().map_err(CudaError::driver)?;
        let text = CString::new(ptx)
            .map_err(|_| CudaError::Jit { kernel: kernel.into(), log: "the PTX text holds a NUL byte".into() })?;
        let mut log = vec![0u8; LOG_BYTES];
        let mut options = [CUjit_option::CU_JIT_ERROR_LOG_BUFFER, CUjit_option::CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES];
        // The driver reads the size option's value from the pointer itself.
        let mut values = [log.as_mut_ptr().cast::<c_void>(), LOG_BYTES as *mut c_void];
        let mut raw = std::ptr::null_mut();
        // SAFETY: `text` is NUL-terminated PTX, the option arrays have equal lengths, and `log` outlives the
        // call and holds `LOG_BYTES` bytes.
        let status = unsafe {
            sys::cuModuleLoadDataEx(
                &mut raw,
                text.as_ptr().cast(),
                options.len() as u32,
                options.as_mut_ptr(),
                values.as_mut_ptr(),
            )
        };
        if status != CUresult::CUDA_SUCCESS {
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            let log = String::from_utf8_lossy(&log[..end]).trim().to_string();
            return Err(CudaError::Jit { kernel: kernel.into(), log: format!("{status:?}: {log}") });
        }
        Ok(Arc::new(Module { raw, ctx: ctx.clone() }))
    }

    /// The entry named `entry`.
    pub(super) fn function(self: &Arc<Self>, entry: &str) -> Result<Function, CudaError> {
        self.ctx.bind_to_thread().map_err(CudaError::driver)?;
        let name = CString::new(entry).map_err(|_| CudaError::Driver(format!("entry name `{entry}` holds NUL")))?;
        let mut raw = std::ptr::null_mut();
        // SAFETY: the module is loaded (self is alive) and `name` is NUL-terminated.
        unsafe { sys::cuModuleGetFunction(&mut raw, self.raw, name.as_ptr()).result() }.map_err(CudaError::driver)?;
        Ok(Function { raw, _module: self.clone() })
    }
}
