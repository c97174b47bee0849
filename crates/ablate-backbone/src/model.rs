//! The whole network: stem, blocks, head conv, pooled features, ImageNet classifier.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use crate::act::Act;
use crate::arch::Arch;
use crate::mbconv::{MbConv, batch_norm, conv};

/// EfficientNet in eval mode. Field names are lukemelas' keys without the leading underscore, so the
/// module tree is the weight file's tree (`_blocks.3._se_reduce.weight` -> `blocks.3.se_reduce.weight`).
///
/// # Shapes
/// - input: `[batch, 3, h, w]` (normalized RGB), features: `[batch, feature_dim]`, logits: `[batch, 1000]`
#[derive(Module, Debug)]
pub struct EfficientNet {
    pub conv_stem: Conv2d,
    pub bn0: BatchNorm,
    pub blocks: Vec<MbConv>,
    pub conv_head: Conv2d,
    pub bn1: BatchNorm,
    /// The ImageNet classifier; absent when the weights have none.
    pub fc: Option<Linear>,
    /// Not a weight: chosen by the architecture.
    #[module(skip)]
    pub act: Act,
}

impl EfficientNet {
    /// The architecture with freshly initialised weights (load real ones with [`crate::load`]).
    pub fn new(arch: &Arch, with_classifier: bool, device: &Device) -> Self {
        let act = Act::from(arch.activation());
        let stem = arch.stem_filters();
        let features = arch.feature_dim();
        let blocks = arch.blocks();
        let last = blocks
            .last()
            .expect("every architecture has blocks")
            .output_filters;
        EfficientNet {
            conv_stem: conv([3, stem], 3, 2, 1, false, device),
            bn0: batch_norm(stem, device),
            blocks: blocks.iter().map(|b| MbConv::new(b, act, device)).collect(),
            conv_head: conv([last, features], 1, 1, 1, false, device),
            bn1: batch_norm(features, device),
            fc: with_classifier.then(|| LinearConfig::new(features, 1000).init(device)),
            act,
        }
    }

    /// The pooled feature vector: head conv + BN + activation, averaged over height and width
    /// (timm's `forward_features` + pooling, lukemelas' input to `_dropout` and `_fc`).
    pub fn forward_features(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x = self
            .act
            .forward(self.bn0.forward(self.conv_stem.forward(x)));
        for block in &self.blocks {
            x = block.forward(x);
        }
        let x = self
            .act
            .forward(self.bn1.forward(self.conv_head.forward(x)));
        x.mean_dim(3).mean_dim(2).flatten(1, 3)
    }

    /// ImageNet logits from pooled features (dropout is inactive in eval), if there is a classifier.
    pub fn forward_head(&self, features: Tensor<2>) -> Option<Tensor<2>> {
        self.fc.as_ref().map(|fc| fc.forward(features))
    }
}
