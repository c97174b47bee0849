//! The thread's model1.

use ablate_matmul::BlockedLinear;
use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use crate::batch_norm::{BatchNorm1d, BatchNorm1dConfig, BnOnRows, BnStats};
use crate::dropout::{PairedDropout, PairedDropoutConfig};
use crate::head::{HeadModel, linear_params, linear_squared_norm};
use crate::init::keyed_linear;

#[derive(Config, Debug)]
pub struct MlpHeadConfig {
    pub d_input: usize,
    pub hidden: usize,
    pub classes: usize,
    /// Bias of the first Linear, the one right before BatchNorm (claim A).
    #[config(default = true)]
    pub bias_before_bn: bool,
    /// A ReLU between the first Linear and BatchNorm (claim B).
    #[config(default = true)]
    pub relu: bool,
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Bias of the output Linear.
    #[config(default = true)]
    pub last_bias: bool,
    /// Dropout between `[ReLU]` and BatchNorm instead of after BatchNorm (the thread's order).
    #[config(default = false)]
    pub dropout_before_bn: bool,
}

/// `Linear(F->H, bias_before_bn) -> [ReLU] -> BatchNorm1d(H) -> Dropout(p) -> Linear(H->C, last_bias)`,
/// or with `dropout_before_bn` `Linear -> [ReLU] -> Dropout(p) -> BatchNorm1d -> Linear`.
///
/// Parameter names (`fc1`, `bn`, `fc2`) key the initial weights, so every mlp variant of one seed
/// starts from the same `fc1.weight` and `fc2.weight`.
///
/// # Shapes
/// - input: `[batch, d_input]`, dropout draws: `[batch, hidden]`, output: `[batch, classes]`
#[derive(Module, Debug)]
pub struct MlpHead {
    pub fc1: BlockedLinear,
    pub bn: BatchNorm1d,
    pub dropout: PairedDropout,
    pub fc2: BlockedLinear,
    pub relu: bool,
    pub dropout_before_bn: bool,
}

impl MlpHeadConfig {
    pub fn init(&self, seed: u64, device: &Device) -> MlpHead {
        MlpHead {
            fc1: BlockedLinear::from_linear(keyed_linear(
                "fc1",
                self.d_input,
                self.hidden,
                self.bias_before_bn,
                seed,
                device,
            )),
            bn: BatchNorm1dConfig::new(self.hidden).init(device),
            dropout: PairedDropoutConfig::new(self.dropout).init(),
            fc2: BlockedLinear::from_linear(keyed_linear(
                "fc2",
                self.hidden,
                self.classes,
                self.last_bias,
                seed,
                device,
            )),
            relu: self.relu,
            dropout_before_bn: self.dropout_before_bn,
        }
    }
}

impl HeadModel for MlpHead {
    fn forward(&self, x: Tensor<2>, dropout_draws: Option<Tensor<2>>) -> Tensor<2> {
        let h = self.fc1.forward(x);
        let h = if self.relu { relu(h) } else { h };
        let h = if self.dropout_before_bn {
            let h = self.dropout.forward(h, dropout_draws);
            self.bn.forward(h)
        } else {
            let h = self.bn.forward(h);
            self.dropout.forward(h, dropout_draws)
        };
        self.fc2.forward(h)
    }

    fn bias_before_bn(&self) -> Option<&Param<Tensor<1>>> {
        self.fc1.bias.as_ref()
    }

    fn trainable_params(&self) -> usize {
        linear_params(&self.fc1)
            + self.bn.gamma.shape().num_elements()
            + self.bn.beta.shape().num_elements()
            + linear_params(&self.fc2)
    }

    fn squared_norm(&self) -> Tensor<1> {
        linear_squared_norm(&self.fc1)
            + self.bn.gamma.val().powi_scalar(2).sum()
            + self.bn.beta.val().powi_scalar(2).sum()
            + linear_squared_norm(&self.fc2)
    }

    fn bn_on_training_rows(&self, x: Tensor<2>, updates: usize) -> Option<BnOnRows> {
        // One pass over the rows serves both measurements.
        let h = self.before_bn(x);
        let [rows, _] = h.dims();
        let mean = h.clone().mean_dim(0);
        let var = (h - mean.clone()).square().mean_dim(0);
        let unbiased = rows as f64 / (rows.saturating_sub(1).max(1)) as f64;
        Some(BnOnRows {
            var_ratio: self.var_ratio(var.clone(), updates),
            refit: BnStats {
                mean: mean.squeeze_dim::<1>(0),
                var: var.mul_scalar(unbiased).squeeze_dim::<1>(0),
            },
        })
    }

    fn forward_eval_pair(
        &self,
        x: Tensor<2>,
        refit: Option<&BnStats>,
    ) -> (Tensor<2>, Option<Tensor<2>>) {
        let h = self.before_bn(x);
        // Eval mode: dropout is the identity wherever it sits.
        let refitted = refit.map(|stats| self.fc2.forward(self.bn.forward_with(h.clone(), stats)));
        (self.fc2.forward(self.bn.forward(h)), refitted)
    }

    fn dropout_width(&self) -> usize {
        if self.dropout.p > 0.0 {
            self.bn.gamma.dims()[0]
        } else {
            0
        }
    }
}

impl MlpHead {
    /// What reaches BatchNorm in eval mode: `[ReLU](fc1(x))` (dropout, wherever it sits, is off).
    fn before_bn(&self, x: Tensor<2>) -> Tensor<2> {
        let h = self.fc1.forward(x);
        if self.relu { relu(h) } else { h }
    }

    /// Li et al.'s variance shift, measured: per BN feature, its running variance (learned in
    /// training, with dropout upstream when there is some) divided by `var`, the (biased) variance
    /// of BN's input over the training rows in eval mode (no dropout), `[1, features]`; the median
    /// over features. Given the training rows, about
    /// 1/(1-p) for dropout p right before BN on centred inputs, about 1 without dropout upstream
    /// (given other rows, a train/val difference in the data would enter too).
    ///
    /// The median, not the mean: behind a ReLU some units are all but dead on `x` (eval variance
    /// ~1e-10) and their ratios of 1e5-1e6 would decide the mean alone (the forum grid measured
    /// means up to 2.2e6 where the median is ~1). Features whose eval input is constant have no
    /// ratio; `None` when every feature is such.
    ///
    /// The running variance starts at 1 and is an exponential average with momentum m, so after
    /// `updates` steps it still holds (1 - m)^updates of that 1: it is corrected as Adam corrects
    /// its moments, `(running - (1 - m)^k) / (1 - (1 - m)^k)`, which leaves the average of the
    /// batch variances alone (40 steps at 25 per class would otherwise keep ~1.5% of the 1).
    pub fn var_ratio(&self, var: Tensor<2>, updates: usize) -> Option<f64> {
        let var: Vec<f32> = var.into_data().try_to_vec::<f32>().ok()?;
        let running: Vec<f32> = self
            .bn
            .running_var
            .value()
            .into_data()
            .try_to_vec::<f32>()
            .ok()?;
        let left = (1.0 - self.bn.momentum).powi(updates.min(i32::MAX as usize) as i32);
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
}
