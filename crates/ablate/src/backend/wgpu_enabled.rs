use anyhow::Result;
use burn::tensor::{Device, DeviceKind};

/// The wgpu adapter wgpu's own choice picks (a high-power GPU first; the only one on a machine
/// whose Vulkan device is Mesa's software lavapipe). `CUBECL_WGPU_DEFAULT_DEVICE` overrides it,
/// e.g. `DiscreteGpu(1)` or `Cpu`.
pub fn device() -> Result<Device> {
    Ok(Device::wgpu(DeviceKind::DefaultDevice))
}
