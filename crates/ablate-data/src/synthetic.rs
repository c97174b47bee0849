//! Synthetic features that look like a pooled CNN embedding: non-negative, correlated, with classes
//! that overlap (so that neither head is trivially perfect). Used by the demo experiment, the tests
//! and the benchmark; real features come from a backbone.

use ablate_spec::seeding::stream;
use rand::Rng;

use crate::features::{Split, Splits};

/// Shape of a synthetic feature set.
#[derive(Debug, Clone, Copy)]
pub struct SyntheticSpec {
    pub classes: usize,
    pub dim: usize,
    pub train_per_class: usize,
    pub val_per_class: usize,
    /// 0: no test split.
    pub test_per_class: usize,
    /// Dimension of the latent space the classes live in.
    pub latent: usize,
    /// Distance between class centres in latent units; ~1.5 gives confusable classes.
    pub separation: f64,
    pub seed: u64,
}

impl SyntheticSpec {
    pub fn new(classes: usize, dim: usize, train_per_class: usize, val_per_class: usize) -> Self {
        Self {
            classes,
            dim,
            train_per_class,
            val_per_class,
            test_per_class: 0,
            latent: 16,
            separation: 1.5,
            seed: 0,
        }
    }
}

/// Draws train, val and (when asked for) test: latent `z ~ N(mu_class, I)`, features `relu(A z + 0.5 n)` with a fixed random
/// `A` `[dim, latent]` and noise `n ~ N(0, I)`. Rows are grouped by class.
pub fn synthetic_features(spec: &SyntheticSpec) -> Splits {
    let mut rng = stream(spec.seed, "synthetic/structure");
    let normal = move |rng: &mut rand_chacha::ChaCha8Rng| {
        // Box-Muller: enough for test data, and exactly reproducible.
        let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
        let u2: f64 = rng.random::<f64>();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    };
    let centres: Vec<Vec<f64>> = (0..spec.classes)
        .map(|_| {
            (0..spec.latent)
                .map(|_| normal(&mut rng) * spec.separation / 2f64.sqrt())
                .collect()
        })
        .collect();
    let mixing: Vec<f64> = (0..spec.dim * spec.latent)
        .map(|_| normal(&mut rng) / (spec.latent as f64).sqrt())
        .collect();

    let draw = |split: &str, per_class: usize| {
        let mut rng = stream(spec.seed, &format!("synthetic/{split}"));
        let mut x = Vec::with_capacity(per_class * spec.classes * spec.dim);
        let mut y = Vec::with_capacity(per_class * spec.classes);
        for (class, centre) in centres.iter().enumerate() {
            for _ in 0..per_class {
                let z: Vec<f64> = centre.iter().map(|m| m + normal(&mut rng)).collect();
                for row in mixing.chunks(spec.latent) {
                    let v: f64 = row.iter().zip(&z).map(|(a, b)| a * b).sum::<f64>()
                        + 0.5 * normal(&mut rng);
                    x.push(v.max(0.0) as f32);
                }
                y.push(class as u32);
            }
        }
        Split {
            x,
            y,
            dim: spec.dim,
        }
    };
    Splits {
        train: draw("train", spec.train_per_class),
        val: draw("val", spec.val_per_class),
        test: (spec.test_per_class > 0).then(|| draw("test", spec.test_per_class)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_reproducibility() {
        let spec = SyntheticSpec::new(3, 20, 5, 4);
        let Splits { train, val, test } = synthetic_features(&spec);
        assert_eq!((train.len(), train.x.len()), (15, 300));
        assert_eq!((val.len(), val.x.len()), (12, 240));
        assert_eq!(test, None);
        assert_eq!(train.y.iter().filter(|&&c| c == 2).count(), 5);
        assert!(train.x.iter().all(|&v| v >= 0.0) && train.x.iter().any(|&v| v > 0.0));
        assert_eq!(synthetic_features(&spec).train, train);
        assert_ne!(
            synthetic_features(&SyntheticSpec { seed: 1, ..spec }).train,
            train
        );
        // A test split is drawn from its own stream: train and val stay what they were.
        let with_test = synthetic_features(&SyntheticSpec {
            test_per_class: 2,
            ..spec
        });
        assert_eq!((with_test.train, with_test.val), (train, val.clone()));
        let test = with_test.test.expect("asked for");
        assert_eq!(test.len(), 6);
        assert_ne!(test.x[..20], val.x[..20]);
    }
}
