//! Any head as one module: the layers of an [`ablate_spec::Layer`] list in order.

use ablate_matmul::BlockedLinear;
use ablate_spec::{Layer, Width};
use burn::module::{Module, Param};
use burn::nn::{Gelu, LayerNormConfig, Relu};
use burn::tensor::{Device, Tensor};

use crate::batch_norm::{BatchNorm1dConfig, BnOnRows, BnStats, variance_shift};
use crate::dropout::PairedDropoutConfig;
use crate::init::keyed_linear;
use crate::layers::HeadLayer;

/// A head's layers, each with its name (the key of its initial weights and dropout draws), for
/// `d_input` features and `classes` classes; `hidden` is [`Width::Hidden`].
#[derive(Debug, Clone)]
pub struct HeadConfig {
    pub d_input: usize,
    pub hidden: usize,
    pub classes: usize,
    pub layers: Vec<(String, Layer)>,
}

/// One dropout layer's uniform draws: the stream key's prefix (its layer name) and its width.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropoutDraws {
    pub key: String,
    pub width: usize,
}

/// The layers in order.
///
/// Each Linear is initialised from the stream keyed by its name ([`keyed_linear`]), so two heads
/// that share a layer name and shape start from the same weights, whatever else differs; each
/// dropout with p > 0 takes its draws from the caller, from a stream keyed by its name.
///
/// # Shapes
/// - input: `[batch, d_input]`, output: `[batch, classes]`
#[derive(Module, Debug)]
pub struct SequentialHead {
    pub layers: Vec<HeadLayer>,
    /// Per layer, the width of what it outputs.
    pub widths: Vec<usize>,
    /// The dropout layers that draw (p > 0), in order: `(layer index, stream key)`.
    pub drawing: Vec<(usize, String)>,
    /// The Linears whose output reaches a BatchNorm through activations only (claim A's biases).
    pub before_bn: Vec<usize>,
    /// The BatchNorm the variance-shift measurements look at: the first one after a Linear.
    pub measured_bn: Option<usize>,
}

impl HeadConfig {
    pub fn new(
        d_input: usize,
        hidden: usize,
        classes: usize,
        layers: Vec<(String, Layer)>,
    ) -> Self {
        Self {
            d_input,
            hidden,
            classes,
            layers,
        }
    }

    /// `variant`'s layers ([`ablate_spec::HeadVariant::layers`]).
    pub fn of(
        variant: &ablate_spec::HeadVariant,
        d_input: usize,
        hidden: usize,
        classes: usize,
    ) -> Self {
        Self::new(d_input, hidden, classes, variant.layers())
    }

    /// A Linear's output width in this head.
    pub fn width(&self, out: Width) -> usize {
        match out {
            Width::Hidden => self.hidden,
            Width::Classes => self.classes,
            Width::Fixed(n) => n,
        }
    }

    pub fn init(&self, seed: u64, device: &Device) -> SequentialHead {
        let mut width = self.d_input;
        let mut layers = Vec::with_capacity(self.layers.len());
        let mut widths = Vec::with_capacity(self.layers.len());
        let mut drawing = Vec::new();
        for (i, (name, layer)) in self.layers.iter().enumerate() {
            let built = match *layer {
                Layer::Linear { out, bias } => {
                    let out = self.width(out);
                    let linear = keyed_linear(name, width, out, bias, seed, device);
                    width = out;
                    HeadLayer::Linear(BlockedLinear::from_linear(linear))
                }
                Layer::Relu => HeadLayer::Relu(Relu),
                Layer::Gelu => HeadLayer::Gelu(Gelu { approximate: false }),
                Layer::BatchNorm => {
                    HeadLayer::BatchNorm(BatchNorm1dConfig::new(width).init(device))
                }
                Layer::LayerNorm => HeadLayer::LayerNorm(LayerNormConfig::new(width).init(device)),
                Layer::Dropout { p } => {
                    if p > 0.0 {
                        drawing.push((i, name.clone()));
                    }
                    HeadLayer::Dropout(PairedDropoutConfig::new(p).init())
                }
            };
            layers.push(built);
            widths.push(width);
        }
        let kinds: Vec<Layer> = self.layers.iter().map(|(_, l)| *l).collect();
        SequentialHead {
            layers,
            widths,
            drawing,
            before_bn: ablate_spec::LayerRole::LinearBeforeBn.find(&kinds),
            measured_bn: measured_bn(&kinds),
        }
    }
}

/// The first BatchNorm with a Linear before it (through activations and dropout): the BN whose
/// input dropout can shift (Li et al. 2019).
fn measured_bn(layers: &[Layer]) -> Option<usize> {
    (0..layers.len()).find(|&i| {
        layers[i] == Layer::BatchNorm
            && layers[..i]
                .iter()
                .rev()
                .find(|l| !matches!(l, Layer::Relu | Layer::Gelu | Layer::Dropout { .. }))
                .is_some_and(|l| matches!(l, Layer::Linear { .. }))
    })
}

impl SequentialHead {
    /// Logits. `dropout_draws` (one uniform `[batch, width]` per [`SequentialHead::dropout_draws`])
    /// are used by the dropout layers while training; `None` to evaluate.
    pub fn forward(&self, x: Tensor<2>, dropout_draws: Option<&[Tensor<2>]>) -> Tensor<2> {
        self.forward_range(x, 0..self.layers.len(), dropout_draws)
    }

    fn forward_range(
        &self,
        mut x: Tensor<2>,
        range: std::ops::Range<usize>,
        dropout_draws: Option<&[Tensor<2>]>,
    ) -> Tensor<2> {
        for i in range {
            let draws = dropout_draws.and_then(|d| {
                self.drawing
                    .iter()
                    .position(|(j, _)| *j == i)
                    .map(|k| d[k].clone())
            });
            x = self.layers[i].forward(x, draws);
        }
        x
    }

    /// The draws the head consumes per step, in the order [`SequentialHead::forward`] takes them.
    pub fn dropout_draws(&self) -> Vec<DropoutDraws> {
        self.drawing
            .iter()
            .map(|(i, key)| DropoutDraws {
                key: key.clone(),
                width: self.widths[*i],
            })
            .collect()
    }

    /// The biases of the Linears right before a BatchNorm (through activations only), whose
    /// gradient claim A says is zero.
    pub fn biases_before_bn(&self) -> Vec<&Param<Tensor<1>>> {
        self.before_bn
            .iter()
            .filter_map(|&i| match &self.layers[i] {
                HeadLayer::Linear(l) => l.bias.as_ref(),
                _ => None,
            })
            .collect()
    }

    /// Trainable parameters, as PyTorch's `sum(p.numel() for p in model.parameters())` counts them
    /// (burn's `num_params` also counts BatchNorm's running statistics, which PyTorch keeps as
    /// buffers).
    pub fn trainable_params(&self) -> usize {
        self.layers.iter().map(HeadLayer::trainable_params).sum()
    }

    /// The sum of squares of the trainable parameters (what an L2 penalty `wd/2 * |θ|²` weighs).
    pub fn squared_norm(&self) -> Tensor<1> {
        self.layers
            .iter()
            .filter_map(HeadLayer::squared_norm)
            .reduce(|a, b| a + b)
            .expect("every head has a Linear")
    }

    /// The measured BatchNorm on the training rows `x` in eval mode, after `updates` optimizer
    /// steps: its variance shift ([`variance_shift`]) and its statistics recomputed without any
    /// dropout (G1/G2's shift, measured). `None` for a head without such a BN.
    pub fn bn_on_training_rows(&self, x: Tensor<2>, updates: usize) -> Option<BnOnRows> {
        let at = self.measured_bn?;
        let HeadLayer::BatchNorm(bn) = &self.layers[at] else {
            unreachable!("measured_bn is a BatchNorm")
        };
        // One pass over the rows serves both measurements.
        let h = self.forward_range(x, 0..at, None);
        let [rows, _] = h.dims();
        let mean = h.clone().mean_dim(0);
        let var = (h - mean.clone()).square().mean_dim(0);
        let unbiased = rows as f64 / (rows.saturating_sub(1).max(1)) as f64;
        Some(BnOnRows {
            var_ratio: variance_shift(bn, var.clone(), updates),
            refit: BnStats {
                mean: mean.squeeze_dim::<1>(0),
                var: var.mul_scalar(unbiased).squeeze_dim::<1>(0),
            },
        })
    }

    /// Eval-mode logits with BN's running statistics and, given `refit`, with those statistics in
    /// the measured BN's place (the layers before it computed once for both).
    pub fn forward_eval_pair(
        &self,
        x: Tensor<2>,
        refit: Option<&BnStats>,
    ) -> (Tensor<2>, Option<Tensor<2>>) {
        let Some(at) = self.measured_bn else {
            return (self.forward(x, None), None);
        };
        let HeadLayer::BatchNorm(bn) = &self.layers[at] else {
            unreachable!("measured_bn is a BatchNorm")
        };
        let end = self.layers.len();
        let h = self.forward_range(x, 0..at, None);
        let refitted = refit
            .map(|stats| self.forward_range(bn.forward_with(h.clone(), stats), at + 1..end, None));
        (
            self.forward_range(bn.forward(h), at + 1..end, None),
            refitted,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ablate_spec::{HeadKind, HeadVariant, Switch, Value};

    fn head(variant: HeadVariant, hidden: usize, device: &Device) -> SequentialHead {
        HeadConfig::of(&variant, 1280, hidden, 4).init(0, device)
    }

    /// Parameter counts worked out by hand for F = 1280, H = 1024, C = 4.
    #[test]
    fn parameter_counts() {
        let device = Device::flex();
        let (f, h, c) = (1280, 1024, 4);
        let cases = [
            (HeadVariant::mlp(), f * h + h + 2 * h + h * c + c, 2 * h),
            (
                HeadVariant::mlp().flag(Switch::BiasBeforeBn, false),
                f * h + 2 * h + h * c + c,
                2 * h,
            ),
            (
                HeadVariant::mlp().flag(Switch::LastBias, false),
                f * h + h + 2 * h + h * c,
                2 * h,
            ),
            (HeadVariant::linear(), f * c + c, 0),
            (
                HeadVariant::linear().flag(Switch::LastBias, false),
                f * c,
                0,
            ),
            // BN(F), Linear(F->512, no bias), BN(512), Linear(512->C, no bias).
            (
                HeadVariant::new(HeadKind::from_word("fastai").unwrap()),
                2 * f + f * 512 + 2 * 512 + 512 * c,
                2 * f + 2 * 512,
            ),
            (
                HeadVariant::new(HeadKind::from_word("timm").unwrap()),
                f * c + c,
                0,
            ),
            // Linear, LayerNorm (scale and shift; no running statistics), Linear.
            (
                HeadVariant::new(HeadKind::from_word("mlp_ln_gelu").unwrap()),
                f * h + h + 2 * h + h * c + c,
                0,
            ),
            (
                HeadVariant::new(HeadKind::from_word("mlp2").unwrap()),
                f * h + h + 2 * h + h * 512 + 512 + 2 * 512 + 512 * c + c,
                2 * h + 2 * 512,
            ),
        ];
        for (variant, expected, buffers) in cases {
            let built = head(variant, h, &device);
            assert_eq!(built.trainable_params(), expected, "{variant}");
            // burn's count adds the running statistics on top.
            assert_eq!(built.num_params(), expected + buffers, "{variant}");
        }
    }

    #[test]
    fn dropout_draws_are_keyed_by_layer_and_sized_by_its_input() {
        let device = Device::flex();
        let model1 = head(HeadVariant::mlp().number(Switch::Dropout, 0.5), 16, &device);
        // model1's key since its dropout first drew: `dropout/<step>`.
        assert_eq!(
            model1.dropout_draws(),
            [DropoutDraws {
                key: "dropout".into(),
                width: 16
            }]
        );
        assert!(
            head(HeadVariant::mlp(), 16, &device)
                .dropout_draws()
                .is_empty()
        );
        let fastai = head(
            HeadVariant::new(HeadKind::from_word("fastai").unwrap()),
            16,
            &device,
        );
        assert_eq!(
            fastai.dropout_draws(),
            [
                DropoutDraws {
                    key: "dropout".into(),
                    width: 1280
                },
                DropoutDraws {
                    key: "dropout2".into(),
                    width: 512
                }
            ]
        );
        // fastai's Linears have no bias; the ReLU sits between its Linear and BN.
        assert!(fastai.biases_before_bn().is_empty());
        assert_eq!(fastai.measured_bn, Some(4));
        let prebn = head(
            HeadVariant::mlp()
                .number(Switch::Dropout, 0.5)
                .with(Switch::DropoutPosition, Value::Word("before_bn")),
            16,
            &device,
        );
        // Linear, ReLU, Dropout, BN, Linear: the measured BN has the dropout before it.
        assert_eq!(prebn.measured_bn, Some(3));
        assert_eq!(prebn.drawing, [(2, "dropout".to_string())]);
    }

    #[test]
    fn valid_evaluates_with_running_statistics() {
        let train_device = Device::flex().autodiff();
        for word in ["mlp", "fastai", "mlp_ln_gelu", "mlp2", "timm"] {
            let variant = HeadVariant::new(HeadKind::from_word(word).unwrap());
            let built = HeadConfig::of(&variant, 3, 5, 2).init(1, &train_device);
            let x = Tensor::<2>::from_floats(
                [[1.0, 2.0, 3.0], [0.0, -1.0, 4.0], [2.0, 2.0, 2.0]],
                &train_device,
            );
            let draws: Vec<Tensor<2>> = built
                .dropout_draws()
                .iter()
                .map(|d| Tensor::<2>::full([3, d.width], 0.9, &train_device))
                .collect();
            let _ = built.forward(x, Some(&draws));

            // After valid(), one sample alone gives the same output whatever the rest of the
            // batch is.
            let eval = built.valid();
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
            assert_eq!(a[..], b[..2], "{word}");
        }
    }
}
