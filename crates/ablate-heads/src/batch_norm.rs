//! `BatchNorm1d` with PyTorch's semantics.
//!
//! burn-nn's `BatchNorm` updates its running variance with the biased batch variance; PyTorch uses the
//! unbiased one (`n / (n - 1)` times larger). Eval-mode outputs, and so every validation number, depend
//! on it, so the heads use this module instead.

use burn::config::Config;
use burn::module::{Flag, Module, Param, RunningState};
use burn::tensor::{Device, Tensor};

/// Per-feature statistics BatchNorm normalizes with in eval mode.
#[derive(Debug, Clone)]
pub struct BnStats {
    pub mean: Tensor<1>,
    /// Unbiased, as PyTorch's running variance.
    pub var: Tensor<1>,
}

/// What a head's BatchNorm shows on the rows it trained on, in eval mode (no dropout): its
/// variance shift and the statistics it would normalize with had no dropout sat upstream of it.
#[derive(Debug, Clone)]
pub struct BnOnRows {
    /// [`variance_shift`]: `None` when no feature has a ratio.
    pub var_ratio: Option<f64>,
    /// The rows' mean and unbiased variance per feature.
    pub refit: BnStats,
}

#[derive(Config, Debug)]
pub struct BatchNorm1dConfig {
    pub num_features: usize,
    #[config(default = 1e-5)]
    pub epsilon: f64,
    /// PyTorch's convention: `running = (1 - momentum) * running + momentum * batch`.
    #[config(default = 0.1)]
    pub momentum: f64,
}

/// # Shapes
/// - input and output: `[batch, num_features]`
#[derive(Module, Debug)]
pub struct BatchNorm1d {
    pub gamma: Param<Tensor<1>>,
    pub beta: Param<Tensor<1>>,
    pub running_mean: RunningState<Tensor<1>>,
    pub running_var: RunningState<Tensor<1>>,
    pub training: Param<Flag>,
    pub epsilon: f64,
    pub momentum: f64,
}

impl BatchNorm1dConfig {
    pub fn init(&self, device: &Device) -> BatchNorm1d {
        let n = self.num_features;
        BatchNorm1d {
            gamma: Param::from_tensor(Tensor::ones([n], device)),
            beta: Param::from_tensor(Tensor::zeros([n], device)),
            running_mean: RunningState::new(Tensor::zeros([n], device)),
            running_var: RunningState::new(Tensor::ones([n], device)),
            training: Param::from_bool(true),
            epsilon: self.epsilon,
            momentum: self.momentum,
        }
    }
}

impl BatchNorm1d {
    /// Batch statistics (and a running-statistics update) on an autodiff device while training;
    /// running statistics otherwise, as after `valid()`.
    pub fn forward(&self, input: Tensor<2>) -> Tensor<2> {
        if input.device().is_autodiff() && self.training.is_enabled() {
            self.forward_train(input)
        } else {
            self.forward_eval(input)
        }
    }

    fn affine(&self, normalized: Tensor<2>) -> Tensor<2> {
        normalized * self.gamma.val().unsqueeze::<2>() + self.beta.val().unsqueeze::<2>()
    }

    fn forward_eval(&self, input: Tensor<2>) -> Tensor<2> {
        let stats = BnStats {
            mean: self.running_mean.value(),
            var: self.running_var.value(),
        };
        self.forward_with(input, &stats)
    }

    /// Eval-mode output with `stats` in place of the running statistics.
    pub fn forward_with(&self, input: Tensor<2>, stats: &BnStats) -> Tensor<2> {
        let device = input.device();
        let mean = stats.mean.clone().to_device(&device).unsqueeze::<2>();
        let std = stats
            .var
            .clone()
            .to_device(&device)
            .add_scalar(self.epsilon)
            .sqrt()
            .unsqueeze::<2>();
        self.affine((input - mean) / std)
    }

    fn forward_train(&self, input: Tensor<2>) -> Tensor<2> {
        let [batch, _] = input.dims();
        let mean = input.clone().mean_dim(0);
        let centered = input - mean.clone();
        let var = centered.clone().square().mean_dim(0);
        let output = self.affine(centered / var.clone().add_scalar(self.epsilon).sqrt());

        let device = output.device();
        let m = self.momentum;
        let unbiased = batch as f64 / (batch.saturating_sub(1).max(1)) as f64;
        let mean = mean.detach().squeeze_dim::<1>(0);
        let var = var.detach().squeeze_dim::<1>(0).mul_scalar(unbiased);
        let running_mean = self.running_mean.value_sync().to_device(&device);
        let running_var = self.running_var.value_sync().to_device(&device);
        self.running_mean
            .update((running_mean.mul_scalar(1.0 - m) + mean.mul_scalar(m)).detach());
        self.running_var
            .update((running_var.mul_scalar(1.0 - m) + var.mul_scalar(m)).detach());
        output
    }
}

/// Li et al.'s variance shift, measured: per BN feature, its running variance (learned in
/// training, with dropout upstream when there is some) divided by `var`, the (biased) variance of
/// BN's input over the training rows in eval mode (no dropout), `[1, features]`; the median over
/// features. Given the training rows, about 1/(1-p) for dropout p right before BN on centred
/// inputs, about 1 without dropout upstream (given other rows, a train/val difference in the data
/// would enter too).
///
/// The median, not the mean: behind a ReLU some units are all but dead on `x` (eval variance
/// ~1e-10) and their ratios of 1e5-1e6 would decide the mean alone (the forum grid measured means
/// up to 2.2e6 where the median is ~1). Features whose eval input is constant have no ratio;
/// `None` when every feature is such.
///
/// The running variance starts at 1 and is an exponential average with momentum m, so after
/// `updates` steps it still holds (1 - m)^updates of that 1: it is corrected as Adam corrects its
/// moments, `(running - (1 - m)^k) / (1 - (1 - m)^k)`, which leaves the average of the batch
/// variances alone (40 steps at 25 per class would otherwise keep ~1.5% of the 1).
pub fn variance_shift(bn: &BatchNorm1d, var: Tensor<2>, updates: usize) -> Option<f64> {
    let var: Vec<f32> = var.into_data().try_to_vec::<f32>().ok()?;
    let running: Vec<f32> = bn
        .running_var
        .value()
        .into_data()
        .try_to_vec::<f32>()
        .ok()?;
    let left = (1.0 - bn.momentum).powi(updates.min(i32::MAX as usize) as i32);
    if updates == 0 || left >= 1.0 {
        return None;
    }
    let mut ratios: Vec<f64> = running
        .iter()
        .zip(&var)
        .filter(|(_, v)| **v > 1e-12)
        .map(|(r, v)| (f64::from(*r) - left) / (1.0 - left) / f64::from(*v))
        .collect();
    if ratios.is_empty() {
        return None;
    }
    ratios.sort_by(f64::total_cmp);
    let mid = ratios.len() / 2;
    Some(if ratios.len() % 2 == 1 {
        ratios[mid]
    } else {
        (ratios[mid - 1] + ratios[mid]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{TensorData, Tolerance};

    fn floats(t: Tensor<1>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    /// Values worked out by hand: batch [[1, 10], [3, 10], [5, 16]], per-column mean [3, 12],
    /// biased var [8/3, 8], unbiased var [4, 12].
    #[test]
    fn train_then_valid_matches_pytorch() {
        let device = Device::flex().autodiff();
        let bn = BatchNorm1dConfig::new(2).with_momentum(0.5).init(&device);
        let x = Tensor::<2>::from_floats([[1.0, 10.0], [3.0, 10.0], [5.0, 16.0]], &device);
        let y = bn.forward(x);
        let s0 = (8.0f32 / 3.0 + 1e-5).sqrt();
        let s1 = (8.0f32 + 1e-5).sqrt();
        y.into_data().assert_approx_eq::<f32>(
            &TensorData::from([
                [-2.0 / s0, -2.0 / s1],
                [0.0, -2.0 / s1],
                [2.0 / s0, 4.0 / s1],
            ]),
            Tolerance::default(),
        );
        // running = 0.5 * init + 0.5 * batch, with the unbiased variance.
        assert_eq!(floats(bn.running_mean.value_sync()), vec![1.5, 6.0]);
        assert_eq!(floats(bn.running_var.value_sync()), vec![2.5, 6.5]);

        let eval = bn.valid();
        let x = Tensor::<2>::from_floats([[1.5, 6.0 + 6.5f32.sqrt()]], &Device::flex());
        let y = eval.forward(x).into_data().try_to_vec::<f32>().unwrap();
        assert!(y[0].abs() < 1e-6 && (y[1] - 1.0).abs() < 1e-5, "{y:?}");
        // Evaluation does not move the running statistics.
        assert_eq!(floats(eval.running_mean.value()), vec![1.5, 6.0]);
    }
}
