//! The mobile inverted bottleneck block, with lukemelas' parameter names (minus the leading underscore).

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};

use crate::act::Act;
use crate::arch::BlockSpec;
use crate::norm::batch_norm;

/// The BatchNorms' momentum, in PyTorch's convention (lukemelas' models).
pub(crate) const BATCH_NORM_MOMENTUM: f64 = 0.01;

/// BatchNorm as these models have it: eps 1e-3 (TF's), momentum 0.01 in PyTorch's convention.
pub(crate) fn new_batch_norm(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels)
        .with_epsilon(1e-3)
        .with_momentum(BATCH_NORM_MOMENTUM)
        .init(device)
}

pub(crate) fn conv(
    channels: [usize; 2],
    kernel: usize,
    stride: usize,
    groups: usize,
    bias: bool,
    device: &Device,
) -> Conv2d {
    // `Same` is TF's padding: output ceil(input / stride), the extra pixel of an odd total on the
    // bottom/right. It is computed from the actual input size.
    Conv2dConfig::new(channels, [kernel, kernel])
        .with_stride([stride, stride])
        .with_groups(groups)
        .with_padding(PaddingConfig2d::Same)
        .with_bias(bias)
        .init(device)
}

/// `[expand 1x1 -> BN -> act] -> depthwise kxk -> BN -> act -> [squeeze-excitation] -> project 1x1 -> BN
/// -> [+ input]`. Drop-connect only acts in training ([`MbConv::forward_with`]).
///
/// # Shapes
/// - input: `[batch, input_filters, h, w]`, output: `[batch, output_filters, ceil(h/stride), ceil(w/stride)]`
#[derive(Module, Debug)]
pub struct MbConv {
    pub expand_conv: Option<Conv2d>,
    pub bn0: Option<BatchNorm>,
    pub depthwise_conv: Conv2d,
    pub bn1: BatchNorm,
    pub se_reduce: Option<Conv2d>,
    pub se_expand: Option<Conv2d>,
    pub project_conv: Conv2d,
    pub bn2: BatchNorm,
    /// Not a weight: chosen by the architecture.
    #[module(skip)]
    pub act: Act,
    pub skip: bool,
    /// Which stage of the architecture the block belongs to (fine-tuning freezes whole stages).
    pub stage: usize,
}

impl MbConv {
    pub fn new(spec: &BlockSpec, act: Act, device: &Device) -> Self {
        let hidden = spec.expanded();
        let expand = spec.expand_ratio != 1;
        MbConv {
            expand_conv: expand.then(|| conv([spec.input_filters, hidden], 1, 1, 1, false, device)),
            bn0: expand.then(|| new_batch_norm(hidden, device)),
            depthwise_conv: conv(
                [hidden, hidden],
                spec.kernel,
                spec.stride,
                hidden,
                false,
                device,
            ),
            bn1: new_batch_norm(hidden, device),
            se_reduce: spec
                .se_filters
                .map(|se| conv([hidden, se], 1, 1, 1, true, device)),
            se_expand: spec
                .se_filters
                .map(|se| conv([se, hidden], 1, 1, 1, true, device)),
            project_conv: conv([hidden, spec.output_filters], 1, 1, 1, false, device),
            bn2: new_batch_norm(spec.output_filters, device),
            act,
            skip: spec.has_skip(),
            stage: spec.stage,
        }
    }

    /// Without drop-connect: inference (on a plain device), or training without it.
    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        self.forward_with(input, None)
    }

    /// One block (its BatchNorms train on a training device unless frozen), with drop-connect on the residual branch when
    /// `drop_connect` holds its per-image scale `[batch, 1, 1, 1]` (0 where the branch is dropped,
    /// 1 / (1 - p) where kept: lukemelas' `drop_connect`). Blocks without a skip ignore it, as
    /// lukemelas' do.
    pub fn forward_with(&self, input: Tensor<4>, drop_connect: Option<Tensor<4>>) -> Tensor<4> {
        let mut x = input.clone();
        if let (Some(conv), Some(bn)) = (&self.expand_conv, &self.bn0) {
            x = self
                .act
                .forward(batch_norm(bn, ablate_matmul::conv1x1(conv, x)));
        }
        x = self
            .act
            .forward(batch_norm(&self.bn1, self.depthwise_conv.forward(x)));
        if let (Some(reduce), Some(expand)) = (&self.se_reduce, &self.se_expand) {
            // Squeeze-excitation always uses swish inside, in both lukemelas and TF.
            let squeezed = x.clone().mean_dim(3).mean_dim(2);
            let excited = ablate_matmul::conv1x1(
                expand,
                Act::Swish.forward(ablate_matmul::conv1x1(reduce, squeezed)),
            );
            x = x * sigmoid(excited);
        }
        x = batch_norm(&self.bn2, ablate_matmul::conv1x1(&self.project_conv, x));
        if !self.skip {
            return x;
        }
        match drop_connect {
            Some(scale) => x * scale + input,
            None => x + input,
        }
    }
}
