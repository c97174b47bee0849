//! Random streams keyed by name, so that what a tensor or a batch order gets does not depend on the
//! order in which anything else drew random numbers. Two head variants that share a layer name get the
//! same initial weights for it; two variants trained with the same seed see the same batches and
//! dropout masks. This is what makes the paired comparison exact.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use sha2::{Digest, Sha256};

/// A ChaCha8 stream for `(seed, key)`. The key is a path such as `"init/fc1.weight"` or
/// `"order/n100/epoch3"`; different keys give independent streams.
pub fn stream(seed: u64, key: &str) -> ChaCha8Rng {
    let mut hasher = Sha256::new();
    hasher.update(b"ablate/v1\0");
    hasher.update(seed.to_le_bytes());
    hasher.update(key.as_bytes());
    ChaCha8Rng::from_seed(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::RngCore;

    #[test]
    fn same_key_same_stream_other_key_other_stream() {
        let a = stream(7, "init/fc1.weight").next_u64();
        assert_eq!(a, stream(7, "init/fc1.weight").next_u64());
        assert_ne!(a, stream(7, "init/fc1.bias").next_u64());
        assert_ne!(a, stream(8, "init/fc1.weight").next_u64());
    }
}
