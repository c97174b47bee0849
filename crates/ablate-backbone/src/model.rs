//! The whole network: stem, blocks, head conv, pooled features, ImageNet classifier.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use crate::act::Act;
use crate::arch::Arch;
use crate::mbconv::{MbConv, conv, new_batch_norm};
use crate::norm::batch_norm;

/// EfficientNet: inference on a plain device, training (fine-tuning) on an autodiff one. Field names are lukemelas' keys without the leading underscore, so the
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
            bn0: new_batch_norm(stem, device),
            blocks: blocks.iter().map(|b| MbConv::new(b, act, device)).collect(),
            conv_head: conv([last, features], 1, 1, 1, false, device),
            bn1: new_batch_norm(features, device),
            fc: with_classifier.then(|| LinearConfig::new(features, 1000).init(device)),
            act,
        }
    }

    /// The pooled feature vector: head conv + BN + activation, averaged over height and width
    /// (timm's `forward_features` + pooling, lukemelas' input to `_dropout` and `_fc`).
    ///
    /// On an autodiff device (fine-tuning) the BatchNorms that are not frozen normalize with batch
    /// statistics and update their running ones; see [`Self::forward_features_train`] for drop-connect.
    pub fn forward_features(&self, x: Tensor<4>) -> Tensor<2> {
        self.forward_features_train(x, &[])
    }

    /// [`Self::forward_features`] with drop-connect: `drop_connect[i]` is block i's per-image scale
    /// `[batch, 1, 1, 1]` (see [`MbConv::forward_with`]); missing entries and `None` mean none.
    /// Draw them with the rates of [`Self::drop_connect_rates`].
    pub fn forward_features_train(
        &self,
        x: Tensor<4>,
        drop_connect: &[Option<Tensor<4>>],
    ) -> Tensor<2> {
        let mut x = self
            .act
            .forward(batch_norm(&self.bn0, self.conv_stem.forward(x)));
        for (i, block) in self.blocks.iter().enumerate() {
            x = block.forward_with(x, drop_connect.get(i).cloned().flatten());
        }
        let x = self
            .act
            .forward(batch_norm(&self.bn1, self.conv_head.forward(x)));
        x.mean_dim(3).mean_dim(2).flatten(1, 3)
    }

    /// Per block, the probability that drop-connect drops its residual branch for an image:
    /// lukemelas' schedule, `rate * index / blocks` (0 for the first block and for blocks without
    /// a residual connection, which drop-connect does not touch).
    pub fn drop_connect_rates(&self, rate: f64) -> Vec<f64> {
        let n = self.blocks.len() as f64;
        self.blocks
            .iter()
            .enumerate()
            .map(|(i, b)| if b.skip { rate * i as f64 / n } else { 0.0 })
            .collect()
    }

    /// Freezes the stem and the blocks of the first `stages` stages (of the 7): no gradients, and
    /// their BatchNorms keep their running statistics while the rest trains, as timm freezes them.
    /// The head conv and everything after it always train.
    pub fn freeze_stages(mut self, stages: usize) -> Self {
        if stages == 0 {
            return self;
        }
        self.conv_stem = self.conv_stem.freeze();
        self.bn0 = self.bn0.freeze();
        self.blocks = self
            .blocks
            .into_iter()
            .map(|b| if b.stage < stages { b.freeze() } else { b })
            .collect();
        self
    }

    /// ImageNet logits from pooled features (dropout is inactive in eval), if there is a classifier.
    pub fn forward_head(&self, features: Tensor<2>) -> Option<Tensor<2>> {
        self.fc.as_ref().map(|fc| fc.forward(features))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lite0() -> EfficientNet {
        let arch = Arch::from_name("efficientnet-lite0").unwrap();
        EfficientNet::new(&arch, false, &Device::flex().autodiff())
    }

    /// lukemelas: `drop_connect_rate * idx / len(blocks)`, applied only where the block has a skip.
    #[test]
    fn drop_connect_follows_lukemelas_schedule() {
        let model = lite0();
        let rates = model.drop_connect_rates(0.2);
        assert_eq!(rates.len(), 16);
        for (i, (rate, block)) in rates.iter().zip(&model.blocks).enumerate() {
            let expected = if block.skip {
                0.2 * i as f64 / 16.0
            } else {
                0.0
            };
            assert_eq!(*rate, expected, "block {i}");
        }
        // lite0's first residual block is block 2 (stage 1's second); the last is block 14.
        assert_eq!(rates[2], 0.2 * 2.0 / 16.0);
        assert_eq!(rates[15], 0.0);
    }

    #[test]
    fn freezing_stages_stops_gradients_and_batch_statistics_there_only() {
        let model = lite0().freeze_stages(2);
        assert!(!model.conv_stem.weight.is_require_grad());
        assert!(!model.bn0.training.is_enabled());
        for block in &model.blocks {
            let frozen = block.stage < 2;
            assert_eq!(
                block.depthwise_conv.weight.is_require_grad(),
                !frozen,
                "stage {}",
                block.stage
            );
            assert_eq!(block.bn1.training.is_enabled(), !frozen);
        }
        assert!(model.conv_head.weight.is_require_grad());
        assert!(model.bn1.training.is_enabled());
        // Stages 0 and 1 of lite0 hold blocks 0-2.
        assert_eq!(model.blocks.iter().filter(|b| b.stage < 2).count(), 3);
    }
}
