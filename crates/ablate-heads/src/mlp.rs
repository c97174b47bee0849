//! The thread's model1.

use burn::config::Config;
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use crate::batch_norm::{BatchNorm1d, BatchNorm1dConfig};
use crate::dropout::{PairedDropout, PairedDropoutConfig};
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
}

/// `Linear(F->H, bias_before_bn) -> [ReLU] -> BatchNorm1d(H) -> Dropout(p) -> Linear(H->C, last_bias)`.
///
/// Parameter names (`fc1`, `bn`, `fc2`) key the initial weights, so every mlp variant of one seed
/// starts from the same `fc1.weight` and `fc2.weight`.
///
/// # Shapes
/// - input: `[batch, d_input]`, dropout draws: `[batch, hidden]`, output: `[batch, classes]`
#[derive(Module, Debug)]
pub struct MlpHead {
    pub fc1: Linear,
    pub bn: BatchNorm1d,
    pub dropout: PairedDropout,
    pub fc2: Linear,
    pub relu: bool,
}

impl MlpHeadConfig {
    pub fn init(&self, seed: u64, device: &Device) -> MlpHead {
        MlpHead {
            fc1: keyed_linear(
                "fc1",
                self.d_input,
                self.hidden,
                self.bias_before_bn,
                seed,
                device,
            ),
            bn: BatchNorm1dConfig::new(self.hidden).init(device),
            dropout: PairedDropoutConfig::new(self.dropout).init(),
            fc2: keyed_linear(
                "fc2",
                self.hidden,
                self.classes,
                self.last_bias,
                seed,
                device,
            ),
            relu: self.relu,
        }
    }
}

impl MlpHead {
    pub fn forward(&self, x: Tensor<2>, dropout_draws: Option<Tensor<2>>) -> Tensor<2> {
        let h = self.fc1.forward(x);
        let h = if self.relu { relu(h) } else { h };
        let h = self.bn.forward(h);
        let h = self.dropout.forward(h, dropout_draws);
        self.fc2.forward(h)
    }
}
