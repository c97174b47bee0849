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

pub fn device(backend: Backend) -> Result<Device> {
    match backend {
        Backend::Flex => Ok(Device::flex()),
        Backend::Cuda => cuda::device(),
    }
}

/// Refuses a backend this build cannot run, with the message `device` would give.
pub fn check(backend: Backend) -> Result<()> {
    match backend {
        Backend::Flex => Ok(()),
        Backend::Cuda if cfg!(feature = "cuda") => Ok(()),
        Backend::Cuda => cuda::device().map(drop),
    }
}

/// The name recorded in every result row.
pub fn name(backend: Backend) -> &'static str {
    match backend {
        Backend::Flex => "flex",
        Backend::Cuda => "cuda",
    }
}
