//! Finding an adapter and opening a device, with the limits the backend respects.

use std::sync::{Arc, Mutex, PoisonError};

use super::WgpuError;

/// How the backend picks its device.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WgpuOptions {
    /// Behave as if no adapter existed (tests of the error path; also `IRC_WGPU_NO_ADAPTER=1`).
    pub no_adapter: bool,
    /// Storage buffers a shader may bind, below the device's limit (tests of argument packing).
    pub max_storage_buffers: Option<u32>,
    /// Hold f16 tensors in 32-bit words even where the adapter has `shader-f16` (the layout every
    /// adapter supports; also `IRC_WGPU_NO_F16=1`).
    pub word_f16: bool,
}

/// The WebGPU default: the most storage buffers per stage any conforming device supports.
pub const PORTABLE_STORAGE_BUFFERS: u32 = 8;

/// An open device and what the backend may use of it.
pub(super) struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    /// f16 tensors are native f16 on the device (`shader-f16`), two bytes per element.
    pub native_f16: bool,
    /// Storage bindings per shader: the device limit, at most [`PORTABLE_STORAGE_BUFFERS`] unless the
    /// options say otherwise.
    pub storage_buffers: u32,
    /// The first error wgpu reported asynchronously (validation, out of memory), not yet returned.
    pub errors: Arc<Mutex<Option<String>>>,
}

impl Gpu {
    pub(super) fn open(opts: &WgpuOptions) -> Result<Gpu, WgpuError> {
        let forced = std::env::var("IRC_WGPU_NO_ADAPTER").is_ok_and(|v| !v.is_empty() && v != "0");
        if opts.no_adapter || forced {
            return Err(WgpuError::NoAdapter("disabled by request".into()));
        }
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        }))
        .map_err(|e| WgpuError::NoAdapter(e.to_string()))?;
        let limits = adapter.limits();
        let word_f16 = opts.word_f16 || std::env::var("IRC_WGPU_NO_F16").is_ok_and(|v| !v.is_empty() && v != "0");
        let native_f16 = !word_f16 && adapter.features().contains(wgpu::Features::SHADER_F16);
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("irc"),
            required_limits: limits.clone(),
            required_features: if native_f16 { wgpu::Features::SHADER_F16 } else { wgpu::Features::empty() },
            ..Default::default()
        }))
        .map_err(|e| WgpuError::Device(e.to_string()))?;
        let errors = Arc::new(Mutex::new(None));
        let sink = errors.clone();
        // wgpu's default handler panics; keep the first error and return it from the next call instead.
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            sink.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert_with(|| e.to_string());
        }));
        let storage_buffers = opts
            .max_storage_buffers
            .unwrap_or(PORTABLE_STORAGE_BUFFERS)
            .min(limits.max_storage_buffers_per_shader_stage)
            .max(2);
        Ok(Gpu { device, queue, info: adapter.get_info(), limits, native_f16, storage_buffers, errors })
    }

    /// The error wgpu reported since the last check, if any.
    pub(super) fn take_error(&self) -> Result<(), WgpuError> {
        match self.errors.lock().unwrap_or_else(PoisonError::into_inner).take() {
            Some(e) => Err(WgpuError::Device(e)),
            None => Ok(()),
        }
    }
}
