use anyhow::{Result, bail};
use burn::tensor::Device;

pub fn device() -> Result<Device> {
    bail!(
        "--backend wgpu is not enabled in this build of ablate; rebuild with `cargo build --release --features wgpu` \
         (a Vulkan, Metal or DirectX 12 device is needed at run time; on Linux without a GPU, Mesa's software \
         lavapipe: `apt install mesa-vulkan-drivers`)"
    )
}
