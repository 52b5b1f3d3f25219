//! Finding the CUDA driver and a device, and choosing the PTX target from its compute capability.

use std::sync::Arc;

use cudarc::driver::{CudaContext, CudaStream};
use irc_codegen::ptx::Gpu;

use super::CudaError;

/// How the backend picks its device.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CudaOptions {
    /// Behave as if no driver were installed (tests of the error path; also `IRC_CUDA_NO_DRIVER=1`).
    pub no_driver: bool,
    /// The device ordinal (`CUDA_VISIBLE_DEVICES` still applies).
    pub ordinal: usize,
}

/// An open device: its context, the one stream every copy and launch is ordered on, and its target.
pub(super) struct Device {
    pub ctx: Arc<CudaContext>,
    pub stream: Arc<CudaStream>,
    pub gpu: Gpu,
    pub name: String,
    pub capability: (i32, i32),
}

/// The PTX target for compute capability `major.minor`: sm_90 for Hopper and later, sm_80 for Ampere and
/// Ada (8.x), none below (the PTX uses `max.NaN` and `cvt.rn.bf16.f32`, which need sm_80).
pub fn target_for(major: i32, minor: i32) -> Result<Gpu, CudaError> {
    match major {
        9.. => Ok(Gpu::Sm90),
        8 => Ok(Gpu::Sm80),
        _ => Err(CudaError::UnsupportedGpu(format!(
            "compute capability {major}.{minor}; the PTX backend needs 8.0 (Ampere) or newer"
        ))),
    }
}

/// Whether the driver library can be loaded, unless the options or `IRC_CUDA_NO_DRIVER` say to pretend
/// it cannot.
pub(super) fn driver_present(opts: &CudaOptions) -> bool {
    let forced = std::env::var("IRC_CUDA_NO_DRIVER").is_ok_and(|v| !v.is_empty() && v != "0");
    // SAFETY: only tries to dlopen the driver library by its usual names and drops it again.
    !opts.no_driver && !forced && unsafe { cudarc::driver::sys::is_culib_present() }
}

impl Device {
    pub(super) fn open(opts: &CudaOptions) -> Result<Device, CudaError> {
        // cudarc panics on its first driver call when libcuda cannot be loaded: check first.
        if !driver_present(opts) {
            return Err(CudaError::NoDriver);
        }
        let count = CudaContext::device_count().map_err(|e| CudaError::NoDevice(e.to_string()))?;
        if opts.ordinal >= count.max(0) as usize {
            return Err(CudaError::NoDevice(format!("device {} requested, {count} present", opts.ordinal)));
        }
        let ctx = CudaContext::new(opts.ordinal).map_err(|e| CudaError::NoDevice(e.to_string()))?;
        // One stream orders every copy, launch and free, so cudarc's per-buffer events are not needed.
        // SAFETY: no buffer exists yet, and the backend uses no stream but `stream`.
        unsafe { ctx.disable_event_tracking() };
        let capability = ctx.compute_capability().map_err(CudaError::driver)?;
        let gpu = target_for(capability.0, capability.1)?;
        let name = ctx.name().map_err(CudaError::driver)?;
        let stream = ctx.new_stream().map_err(CudaError::driver)?;
        Ok(Device { ctx, stream, gpu, name, capability })
    }
}
