//! What runs without a GPU: the missing-driver error and the choice of PTX target.

use irc_codegen::ptx::Gpu;

use super::{CudaBackend, CudaError, CudaOptions, target_for};

#[test]
fn a_missing_driver_is_a_typed_error_that_says_what_to_install() {
    let err = CudaBackend::with_options(&CudaOptions { no_driver: true, ..Default::default() }).unwrap_err();
    assert_eq!(err, CudaError::NoDriver);
    let msg = err.to_string();
    assert!(msg.contains("libcuda.so.1") && msg.contains("NVIDIA driver") && msg.contains("--backend cpu"), "{msg}");
}

#[test]
fn without_libcuda_opening_the_device_fails_cleanly_instead_of_panicking() {
    // SAFETY: only tries to load the library.
    if unsafe { cudarc::driver::sys::is_culib_present() } {
        eprintln!("skipping: libcuda is present on this machine");
        return;
    }
    assert_eq!(CudaBackend::new().unwrap_err(), CudaError::NoDriver);
    assert_eq!(CudaBackend::shared().unwrap_err(), CudaError::NoDriver);
}

#[test]
fn the_target_follows_the_compute_capability() {
    assert_eq!(target_for(9, 0), Ok(Gpu::Sm90));
    assert_eq!(target_for(10, 0), Ok(Gpu::Sm90));
    assert_eq!(target_for(8, 0), Ok(Gpu::Sm80));
    assert_eq!(target_for(8, 9), Ok(Gpu::Sm80));
    assert!(matches!(target_for(7, 5), Err(CudaError::UnsupportedGpu(m)) if m.contains("7.5")));
}
