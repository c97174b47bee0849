use anyhow::Result;
use burn::tensor::Device;

/// The first CUDA device.
pub fn device() -> Result<Device> {
    Ok(Device::cuda(0))
}
