//! Test-set uncertainty: a two-way bootstrap over seeds and test images.
//!
//! A paired contrast on a test metric has two sources of noise: training randomness (the seed: the
//! training subset, initialisation, batch order, dropout draws) and the finite test split (which
//! images happened to be drawn). The t interval over seeds covers only the first; it is conditional
//! on this test split. Seeds and images are crossed (every cell predicts every test image), so the
//! interval here resamples both at once, independently: each replicate draws seeds with replacement
//! and test images with replacement and averages the per-(seed, image) differences over the drawn
//! pairs (the "pigeonhole" bootstrap of Owen 2007, conservative for crossed designs). The interval
//! is the percentile interval of the replicates.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Replicates per interval: the 0.4% tails of a three-size Bonferroni family hold ~16 replicates.
pub const REPLICATES: usize = 4000;

/// The bootstrap distribution of the mean difference.
#[derive(Debug, Clone, PartialEq)]
pub struct TwoWay {
    /// Observed mean over seeds and images.
    pub mean: f64,
    pub seeds: usize,
    pub images: usize,
    replicates: Vec<f64>,
    /// Images and the sd over images of the per-image mean difference (over seeds).
    image_half: Option<(usize, f64)>,
}

impl TwoWay {
    /// `diffs[s][i]`: the difference `a - b` of seed `s` on test image `i` (e.g. correct_a -
    /// correct_b). Every seed has the same images. `key` fixes the random stream, so the same
    /// results give the same interval.
    pub fn new(diffs: &[Vec<f64>], key: &str) -> Self {
        let seeds = diffs.len();
        let images = diffs.first().map_or(0, Vec::len);
        assert!(
            diffs.iter().all(|d| d.len() == images),
            "every seed predicts the same test images"
        );
        let total: f64 = diffs.iter().flatten().sum();
        let mean = total / (seeds * images).max(1) as f64;
        let mut rng = ChaCha8Rng::seed_from_u64(fnv1a(key));
        let mut counts = vec![0u32; images];
        let mut replicates = Vec::with_capacity(REPLICATES);
        if seeds > 0 && images > 0 {
            for _ in 0..REPLICATES {
                counts.iter_mut().for_each(|c| *c = 0);
                for _ in 0..images {
                    counts[rng.random_range(0..images)] += 1;
                }
                let mut sum = 0.0;
                for _ in 0..seeds {
                    let d = &diffs[rng.random_range(0..seeds)];
                    sum += d
                        .iter()
                        .zip(&counts)
                        .map(|(x, &c)| x * f64::from(c))
                        .sum::<f64>();
                }
                replicates.push(sum / (seeds * images) as f64);
            }
            replicates.sort_by(f64::total_cmp);
        }
        let image_half = (seeds > 0 && images > 1).then(|| {
            let per_image: Vec<f64> = (0..images)
                .map(|i| diffs.iter().map(|d| d[i]).sum::<f64>() / seeds as f64)
                .collect();
            let var =
                per_image.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (images - 1) as f64;
            (images, var.sqrt())
        });
        Self {
            mean,
            seeds,
            images,
            replicates,
            image_half,
        }
    }

    /// The two-sided percentile interval at `level` (NaN bounds without replicates or with a
    /// single seed, where seed-to-seed spread cannot be estimated).
    pub fn interval(&self, level: f64) -> (f64, f64) {
        if self.replicates.is_empty() || self.seeds < 2 {
            return (f64::NEG_INFINITY, f64::INFINITY);
        }
        let tail = (1.0 - level) / 2.0;
        (self.quantile(tail), self.quantile(1.0 - tail))
    }

    /// Two-sided bootstrap p-value of "no difference": twice the share of replicates on the far
    /// side of 0 (at least one replicate's worth).
    pub fn p_value(&self) -> f64 {
        if self.replicates.is_empty() || self.seeds < 2 {
            return 1.0;
        }
        let n = self.replicates.len() as f64;
        let below = self.replicates.iter().filter(|&&x| x <= 0.0).count() as f64;
        let above = self.replicates.iter().filter(|&&x| x >= 0.0).count() as f64;
        (2.0 * below.min(above).max(1.0) / n).min(1.0)
    }

    /// Half-width at `level` of the test split's own noise: the spread over images of the
    /// seed-averaged differences. More seeds do not shrink it; a larger test split would.
    pub fn image_half(&self, level: f64) -> f64 {
        self.image_half.map_or(f64::INFINITY, |(n, sd)| {
            crate::stats::half_width_at(n, sd, level)
        })
    }

    fn quantile(&self, q: f64) -> f64 {
        // Type-7 (linear) quantile of the sorted replicates.
        let h = q * (self.replicates.len() - 1) as f64;
        let (lo, frac) = (h.floor() as usize, h.fract());
        let hi = (lo + 1).min(self.replicates.len() - 1);
        self.replicates[lo] + frac * (self.replicates[hi] - self.replicates[lo])
    }
}

/// A stable 64-bit hash of the interval's key (FNV-1a): the same key, the same stream, on every
/// platform and release.
fn fnv1a(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Per-seed, per-image differences of two heads that disagree on about a tenth of the images
    /// and differ by `effect` on average, with a seed-to-seed wobble.
    fn diffs(seeds: usize, images: usize, effect: f64) -> Vec<Vec<f64>> {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        (0..seeds)
            .map(|_| {
                let wobble = rng.random_range(-0.003..0.003);
                (0..images)
                    .map(|_| {
                        let u: f64 = rng.random();
                        let p = 0.05 + (effect + wobble) / 2.0;
                        if u < p {
                            1.0
                        } else if u < 0.1 {
                            -1.0
                        } else {
                            0.0
                        }
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn interval_widens_when_the_test_split_shrinks() {
        let full = diffs(5, 2000, 0.01);
        let small: Vec<Vec<f64>> = full.iter().map(|d| d[..200].to_vec()).collect();
        let (lo, hi) = TwoWay::new(&full, "x").interval(0.95);
        let (lo_s, hi_s) = TwoWay::new(&small, "x").interval(0.95);
        assert!(lo < hi && lo_s < hi_s);
        // Image noise scales as 1/sqrt(images): ten times fewer images, ~3x the width.
        assert!(
            (hi_s - lo_s) > 2.0 * (hi - lo),
            "{} vs {}",
            hi_s - lo_s,
            hi - lo
        );
    }

    #[test]
    fn interval_covers_image_noise_that_seeds_alone_miss() {
        // Five seeds that agree exactly (no training noise): a t interval over seeds has zero
        // width, the two-way bootstrap still sees the finite test split.
        let one = diffs(1, 1000, 0.0).remove(0);
        let same = vec![one; 5];
        let b = TwoWay::new(&same, "k");
        let (lo, hi) = b.interval(0.95);
        assert!(hi - lo > 0.005, "{lo} {hi}");
        assert!(lo < b.mean && b.mean < hi);
        // A clear effect is found; the same key gives the same interval.
        let clear = TwoWay::new(&diffs(5, 2000, 0.05), "k");
        assert!(clear.interval(0.95).0 > 0.0);
        assert!(clear.p_value() < 0.01);
        assert_eq!(
            clear.interval(0.99),
            TwoWay::new(&diffs(5, 2000, 0.05), "k").interval(0.99)
        );
        // A family level reaches further into the tails than 95%.
        let (l95, h95) = clear.interval(0.95);
        let (l99, h99) = clear.interval(1.0 - 0.05 / 3.0);
        assert!(l99 < l95 && h99 > h95);
    }
}
