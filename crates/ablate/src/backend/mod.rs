//! The one place that turns `--backend` into a burn device.

use anyhow::Result;
use burn::tensor::Device;

use crate::cli::Backend;

mod fingerprint;
pub use fingerprint::matmul_fingerprint;

#[cfg(feature = "cuda")]
#[path = "cuda_enabled.rs"]
mod cuda;
#[cfg(not(feature = "cuda"))]
#[path = "cuda_disabled.rs"]
mod cuda;

#[cfg(feature = "wgpu")]
#[path = "wgpu_enabled.rs"]
mod wgpu;
#[cfg(not(feature = "wgpu"))]
#[path = "wgpu_disabled.rs"]
mod wgpu;

pub fn device(backend: Backend) -> Result<Device> {
    match backend {
        Backend::Flex => Ok(Device::flex()),
        Backend::Wgpu => wgpu::device(),
        Backend::Cuda => cuda::device(),
    }
}

/// Refuses a backend this build cannot run, with the message `device` would give.
pub fn check(backend: Backend) -> Result<()> {
    match backend {
        Backend::Flex => Ok(()),
        Backend::Wgpu if cfg!(feature = "wgpu") => Ok(()),
        Backend::Wgpu => wgpu::device().map(drop),
        Backend::Cuda if cfg!(feature = "cuda") => Ok(()),
        Backend::Cuda => cuda::device().map(drop),
    }
}

/// The name recorded in every result row.
pub fn name(backend: Backend) -> &'static str {
    match backend {
        Backend::Flex => "flex",
        Backend::Wgpu => "wgpu",
        Backend::Cuda => "cuda",
    }
}

/// What the device names itself (`NVIDIA H200`, `llvmpipe (LLVM 15.0.6, 256 bits)`), for a device
/// backend; `None` on flex, whose machine `run-info/` records as the CPU. Opens the device.
pub fn device_name(device: &Device) -> Option<String> {
    #[cfg(any(feature = "wgpu", feature = "cuda"))]
    if !ablate_matmul::is_flex(device) {
        return device.identity().map(|identity| identity.name);
    }
    let _ = device;
    None
}
