//! One layer of a head as a burn module: what [`ablate_spec::Layer`] becomes once its widths are
//! known. One variant per layer kind; a new kind is a variant here and its row in the spec.

use ablate_matmul::BlockedLinear;
use burn::module::Module;
use burn::nn::{Gelu, LayerNorm, Relu};
use burn::tensor::Tensor;

use crate::batch_norm::BatchNorm1d;
use crate::dropout::PairedDropout;

// One head per cell: the size difference costs nothing, and boxing would hide the module from
// burn's derive.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum HeadLayer {
    Linear(BlockedLinear),
    Relu(Relu),
    Gelu(Gelu),
    BatchNorm(BatchNorm1d),
    LayerNorm(LayerNorm),
    Dropout(PairedDropout),
}

impl HeadLayer {
    /// The layer on `x`; a dropout layer uses `draws` (its uniform draws) while training and is
    /// the identity without them.
    pub fn forward(&self, x: Tensor<2>, draws: Option<Tensor<2>>) -> Tensor<2> {
        match self {
            HeadLayer::Linear(l) => l.forward(x),
            HeadLayer::Relu(r) => r.forward(x),
            HeadLayer::Gelu(g) => g.forward(x),
            HeadLayer::BatchNorm(bn) => bn.forward(x),
            HeadLayer::LayerNorm(ln) => ln.forward(x),
            HeadLayer::Dropout(d) => d.forward(x, draws),
        }
    }

    /// Trainable parameters (PyTorch's count: BatchNorm's running statistics are buffers).
    pub fn trainable_params(&self) -> usize {
        match self {
            HeadLayer::Linear(l) => {
                l.weight_blocks
                    .iter()
                    .map(|w| w.shape().num_elements())
                    .sum::<usize>()
                    + l.bias.as_ref().map_or(0, |b| b.shape().num_elements())
            }
            HeadLayer::BatchNorm(bn) => {
                bn.gamma.shape().num_elements() + bn.beta.shape().num_elements()
            }
            HeadLayer::LayerNorm(ln) => {
                ln.gamma.shape().num_elements()
                    + ln.beta.as_ref().map_or(0, |b| b.shape().num_elements())
            }
            HeadLayer::Relu(_) | HeadLayer::Gelu(_) | HeadLayer::Dropout(_) => 0,
        }
    }

    /// The sum of squares of its trainable parameters (`None`: it has none).
    pub fn squared_norm(&self) -> Option<Tensor<1>> {
        let sq = |t: Tensor<1>| t.powi_scalar(2).sum();
        match self {
            HeadLayer::Linear(l) => {
                let w = l.weight().powi_scalar(2).sum();
                Some(match &l.bias {
                    Some(b) => w + sq(b.val()),
                    None => w,
                })
            }
            HeadLayer::BatchNorm(bn) => Some(sq(bn.gamma.val()) + sq(bn.beta.val())),
            HeadLayer::LayerNorm(ln) => {
                let g = sq(ln.gamma.val());
                Some(match &ln.beta {
                    Some(b) => g + sq(b.val()),
                    None => g,
                })
            }
            HeadLayer::Relu(_) | HeadLayer::Gelu(_) | HeadLayer::Dropout(_) => None,
        }
    }
}
