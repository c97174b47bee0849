//! Either head behind one type, so the trainer has one code path.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};

use crate::batch_norm::{BnOnRows, BnStats};
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

/// What the trainer and the cell's measurements ask of a head. Each head module implements it
/// (the defaults fit a head without BatchNorm or dropout); [`Head`] dispatches to it in one place,
/// [`Head::model`]. A new head kind is its module, an impl of this trait, a variant of [`Head`]
/// and of [`HeadConfig`].
pub trait HeadModel {
    /// Logits. `dropout_draws` (uniform `[batch, width]`, see [`HeadModel::dropout_width`]) are
    /// used by a dropout layer while training; `None` to evaluate.
    fn forward(&self, x: Tensor<2>, dropout_draws: Option<Tensor<2>>) -> Tensor<2>;

    /// The bias of the Linear right before BatchNorm, whose gradient claim A says is zero.
    fn bias_before_bn(&self) -> Option<&Param<Tensor<1>>> {
        None
    }

    /// Trainable parameters, as PyTorch's `sum(p.numel() for p in model.parameters())` counts them
    /// (burn's `num_params` also counts BatchNorm's running statistics, which PyTorch keeps as
    /// buffers).
    fn trainable_params(&self) -> usize;

    /// The sum of squares of the trainable parameters (what an L2 penalty `wd/2 * |θ|²` weighs).
    fn squared_norm(&self) -> Tensor<1>;

    /// BatchNorm on the training rows `x` in eval mode, after `updates` optimizer steps: its
    /// variance shift ([`MlpHead::var_ratio`]) and its statistics recomputed without any dropout
    /// (G1/G2's shift, measured). `None` for a head without BN.
    fn bn_on_training_rows(&self, _x: Tensor<2>, _updates: usize) -> Option<BnOnRows> {
        None
    }

    /// Eval-mode logits with BN's running statistics and, given `refit`, with those statistics in
    /// their place (the layers before BN computed once for both).
    fn forward_eval_pair(
        &self,
        x: Tensor<2>,
        _refit: Option<&BnStats>,
    ) -> (Tensor<2>, Option<Tensor<2>>) {
        (self.forward(x, None), None)
    }

    /// Width of the dropout draws the head consumes per sample (0 when it has no dropout).
    fn dropout_width(&self) -> usize {
        0
    }
}

impl Head {
    /// The head behind the enum: the one match every method goes through.
    pub fn model(&self) -> &dyn HeadModel {
        match self {
            Head::Mlp(m) => m,
            Head::Linear(l) => l,
        }
    }

    /// See [`HeadModel::forward`].
    pub fn forward(&self, x: Tensor<2>, dropout_draws: Option<Tensor<2>>) -> Tensor<2> {
        self.model().forward(x, dropout_draws)
    }

    /// See [`HeadModel::bias_before_bn`].
    pub fn bias_before_bn(&self) -> Option<&Param<Tensor<1>>> {
        self.model().bias_before_bn()
    }

    /// See [`HeadModel::trainable_params`].
    pub fn trainable_params(&self) -> usize {
        self.model().trainable_params()
    }

    /// See [`HeadModel::bn_on_training_rows`].
    pub fn bn_on_training_rows(&self, x: Tensor<2>, updates: usize) -> Option<BnOnRows> {
        self.model().bn_on_training_rows(x, updates)
    }

    /// See [`HeadModel::forward_eval_pair`].
    pub fn forward_eval_pair(
        &self,
        x: Tensor<2>,
        refit: Option<&BnStats>,
    ) -> (Tensor<2>, Option<Tensor<2>>) {
        self.model().forward_eval_pair(x, refit)
    }

    /// See [`HeadModel::squared_norm`].
    pub fn squared_norm(&self) -> Tensor<1> {
        self.model().squared_norm()
    }

    /// See [`HeadModel::dropout_width`].
    pub fn dropout_width(&self) -> usize {
        self.model().dropout_width()
    }
}

/// Elements of a blocked Linear's weight and bias (the count every head's
/// [`HeadModel::trainable_params`] adds up).
pub(crate) fn linear_params(l: &ablate_matmul::BlockedLinear) -> usize {
    l.weight_blocks
        .iter()
        .map(|w| w.shape().num_elements())
        .sum::<usize>()
        + l.bias.as_ref().map_or(0, |b| b.shape().num_elements())
}

/// The sum of squares of a blocked Linear's weight and bias.
pub(crate) fn linear_squared_norm(l: &ablate_matmul::BlockedLinear) -> Tensor<1> {
    let w = l.weight().powi_scalar(2).sum();
    match &l.bias {
        Some(b) => w + b.val().powi_scalar(2).sum(),
        None => w,
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
