//! Either head behind one type, so the trainer has one code path.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};

use crate::linear_head::{LinearHead, LinearHeadConfig};
use crate::mlp::{MlpHead, MlpHeadConfig};

#[derive(Debug)]
pub enum HeadConfig {
    Mlp(MlpHeadConfig),
    Linear(LinearHeadConfig),
}

// One head per cell: the size difference costs nothing, and boxing would hide the module from burn's derive.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Head {
    Mlp(MlpHead),
    Linear(LinearHead),
}

impl HeadConfig {
    pub fn init(&self, seed: u64, device: &Device) -> Head {
        match self {
            HeadConfig::Mlp(c) => Head::Mlp(c.init(seed, device)),
            HeadConfig::Linear(c) => Head::Linear(c.init(seed, device)),
        }
    }
}

impl Head {
    /// Logits. `dropout_draws` (uniform `[batch, hidden]`) are used by the mlp's dropout while
    /// training; pass `None` to evaluate.
    pub fn forward(&self, x: Tensor<2>, dropout_draws: Option<Tensor<2>>) -> Tensor<2> {
        match self {
            Head::Mlp(m) => m.forward(x, dropout_draws),
            Head::Linear(l) => l.forward(x),
        }
    }

    /// The bias of the Linear right before BatchNorm, whose gradient claim A says is zero.
    pub fn bias_before_bn(&self) -> Option<&Param<Tensor<1>>> {
        match self {
            Head::Mlp(m) => m.fc1.bias.as_ref(),
            Head::Linear(_) => None,
        }
    }

    /// Trainable parameters, as PyTorch's `sum(p.numel() for p in model.parameters())` counts them.
    ///
    /// burn's `num_params` also counts BatchNorm's running mean and variance, which PyTorch keeps as
    /// buffers, not parameters.
    pub fn trainable_params(&self) -> usize {
        let linear = |l: &ablate_matmul::BlockedLinear| {
            l.weight_blocks
                .iter()
                .map(|w| w.shape().num_elements())
                .sum::<usize>()
                + l.bias.as_ref().map_or(0, |b| b.shape().num_elements())
        };
        match self {
            Head::Mlp(m) => {
                linear(&m.fc1)
                    + m.bn.gamma.shape().num_elements()
                    + m.bn.beta.shape().num_elements()
                    + linear(&m.fc2)
            }
            Head::Linear(l) => linear(&l.fc),
        }
    }

    /// [`MlpHead::bn_var_ratio`] of an mlp head; `None` for the linear head (it has no BN).
    pub fn bn_var_ratio(&self, x: Tensor<2>, updates: usize) -> Option<f64> {
        match self {
            Head::Mlp(m) => m.bn_var_ratio(x, updates),
            Head::Linear(_) => None,
        }
    }

    /// The sum of squares of the trainable parameters (what an L2 penalty `wd/2 * |θ|²` weighs).
    pub fn squared_norm(&self) -> Tensor<1> {
        let linear = |l: &ablate_matmul::BlockedLinear| {
            let w = l.weight().powi_scalar(2).sum();
            match &l.bias {
                Some(b) => w + b.val().powi_scalar(2).sum(),
                None => w,
            }
        };
        match self {
            Head::Mlp(m) => {
                linear(&m.fc1)
                    + m.bn.gamma.val().powi_scalar(2).sum()
                    + m.bn.beta.val().powi_scalar(2).sum()
                    + linear(&m.fc2)
            }
            Head::Linear(l) => linear(&l.fc),
        }
    }

    /// Width of the dropout draws the head consumes per sample (0 when it has no dropout).
    pub fn dropout_width(&self) -> usize {
        match self {
            Head::Mlp(m) if m.dropout.p > 0.0 => m.bn.gamma.dims()[0],
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parameter counts worked out by hand for F = 1280, H = 1024, C = 4.
    #[test]
    fn parameter_counts() {
        let device = Device::flex();
        let cases = [
            (
                HeadConfig::Mlp(MlpHeadConfig::new(1280, 1024, 4)),
                1280 * 1024 + 1024 + 2 * 1024 + 1024 * 4 + 4,
            ),
            (
                HeadConfig::Mlp(MlpHeadConfig::new(1280, 1024, 4).with_bias_before_bn(false)),
                1280 * 1024 + 2 * 1024 + 1024 * 4 + 4,
            ),
            (
                HeadConfig::Mlp(MlpHeadConfig::new(1280, 1024, 4).with_last_bias(false)),
                1280 * 1024 + 1024 + 2 * 1024 + 1024 * 4,
            ),
            (
                HeadConfig::Linear(LinearHeadConfig::new(1280, 4)),
                1280 * 4 + 4,
            ),
            (
                HeadConfig::Linear(LinearHeadConfig::new(1280, 4).with_bias(false)),
                1280 * 4,
            ),
        ];
        for (config, expected) in cases {
            let head = config.init(0, &device);
            assert_eq!(head.trainable_params(), expected, "{config:?}");
            // burn's count adds the running statistics (2 x hidden) on top.
            let buffers = if matches!(head, Head::Mlp(_)) {
                2 * 1024
            } else {
                0
            };
            assert_eq!(head.num_params(), expected + buffers);
        }
    }

    #[test]
    fn valid_evaluates_with_running_statistics() {
        let train_device = Device::flex().autodiff();
        let head =
            HeadConfig::Mlp(MlpHeadConfig::new(3, 5, 2).with_dropout(0.5)).init(1, &train_device);
        let x = Tensor::<2>::from_floats(
            [[1.0, 2.0, 3.0], [0.0, -1.0, 4.0], [2.0, 2.0, 2.0]],
            &train_device,
        );
        let draws = Tensor::<2>::full([3, 5], 0.9, &train_device);
        let _ = head.forward(x, Some(draws));

        // After valid(), one sample alone gives the same output whatever the rest of the batch is.
        let eval = head.valid();
        let device = Device::flex();
        let one = Tensor::<2>::from_floats([[1.0, 2.0, 3.0]], &device);
        let two = Tensor::<2>::from_floats([[1.0, 2.0, 3.0], [9.0, 9.0, 9.0]], &device);
        let a = eval
            .forward(one, None)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let b = eval
            .forward(two, None)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(a[..], b[..2]);
    }
}
