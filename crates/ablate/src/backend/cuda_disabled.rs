use anyhow::{Result, bail};
use burn::tensor::Device;

pub fn device() -> Result<Device> {
    bail!(
        "--backend cuda is not enabled in this build of ablate; rebuild with `cargo build --release --features cuda` \
         (see README: the cuda build downloads an LLVM bundle, so it needs network access)"
    )
}
