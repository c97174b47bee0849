//! A fingerprint of how this machine and build round a matrix product that is not cut by hand.
//!
//! burn-flex multiplies with `gemm`, which cuts a product's inner dimension into blocks whose
//! length it derives from the L1 data cache (read from sysfs) and from the SIMD kernel it picks
//! at run time; each cut changes the rounding: a 1280-long inner product is 2 blocks of 640 with the
//! AVX2 kernel on a 48 KiB 12-way L1d, 3 blocks of 427 on a 32 KiB 8-way one or with the AVX-512
//! kernel. The frozen path no longer depends on that (`ablate-matmul` cuts its products into blocks
//! gemm never cuts again). Fine-tuning still does: burn's backward of a convolution sums over
//! batch x positions in one product. So runs that fine-tune are expected to reproduce each other bit
//! for bit only with the same fingerprint; `run-info/` records it next to the CPU.

use burn::tensor::{Device, Tensor, TensorData};
use sha2::{Digest, Sha256};

/// Inner lengths the heads and backbones multiply over (features 1280-2048, hidden 1024,
/// expanded channels 1152 and 3072), a short one (600) and a prime one (4099).
const INNER: [usize; 8] = [600, 1024, 1152, 1280, 1536, 2048, 3072, 4099];
/// A head's batch of rows, and columns enough for gemm's blocked kernels (up to 64 columns it
/// takes another path, whose rounding does not depend on the cache).
const ROWS: usize = 64;
const COLS: usize = 128;

/// The first 16 hex digits of the SHA-256 of the bits of fixed products on `device`.
pub fn matmul_fingerprint(device: &Device) -> String {
    let mut hasher = Sha256::new();
    for k in INNER {
        for value in product(k, device) {
            hasher.update(value.to_bits().to_le_bytes());
        }
    }
    hex::encode(&hasher.finalize()[..8])
}

/// `a (ROWS x k) @ b (k x COLS)` of the fixed [`operands`], read back.
fn product(k: usize, device: &Device) -> Vec<f32> {
    let (a, b) = operands(k, device);
    floats(a.matmul(b))
}

/// Fixed pseudo-random matrices `a (ROWS x k)` and `b (k x COLS)`, values in [-1, 1).
fn operands(k: usize, device: &Device) -> (Tensor<2>, Tensor<2>) {
    let matrix = |rows: usize, cols: usize, seed: u64| {
        // A 64-bit LCG (Knuth's MMIX constants): fixed values without a dependency on rand's streams.
        let mut state = seed;
        let values: Vec<f32> = (0..rows * cols)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
            })
            .collect();
        Tensor::<2>::from_data(TensorData::new(values, [rows, cols]), device)
    };
    (matrix(ROWS, k, 1), matrix(k, COLS, 2))
}

fn floats(t: Tensor<2>) -> Vec<f32> {
    t.into_data()
        .try_to_vec::<f32>()
        .expect("a float product reads back as f32")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_stable_within_a_machine() {
        let device = Device::flex();
        let first = matmul_fingerprint(&device);
        assert_eq!(first.len(), 16);
        assert_eq!(first, matmul_fingerprint(&device));
    }

    /// The fixed products go through gemm's blocked kernels, whose rounding is what the
    /// fingerprint is for: the whole 1280-long product is, bit for bit, the sum of its blocks of
    /// 640 (AVX2 kernel, L1d of 12 ways or more) or of 427 (AVX-512 kernel, or an 8-way L1d), and
    /// not the other. (Thin products take another path, equal to neither.)
    #[test]
    fn fixed_products_show_gemms_blocking() {
        let device = Device::flex();
        let whole = product(1280, &device);
        let (a, b) = operands(1280, &device);
        // The sum of the products of consecutive inner blocks of `len`, as gemm sums its own.
        let same_bits = |len: usize| {
            let blocked = (0..1280usize.div_ceil(len))
                .map(|i| {
                    let range = i * len..((i + 1) * len).min(1280);
                    a.clone()
                        .slice([0..ROWS, range.clone()])
                        .matmul(b.clone().slice([range, 0..COLS]))
                })
                .reduce(|sum, part| sum + part)
                .expect("1280 > 0");
            whole
                .iter()
                .zip(&floats(blocked))
                .all(|(x, y)| x.to_bits() == y.to_bits())
        };
        let (halves, thirds) = (same_bits(640), same_bits(427));
        assert!(
            halves != thirds,
            "blocks of 640 reproduce the product: {halves}; blocks of 427: {thirds}"
        );
    }
}
