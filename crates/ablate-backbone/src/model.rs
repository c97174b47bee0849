//! The whole network: stem, blocks, head conv, pooled features, ImageNet classifier.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use rayon::prelude::*;

use crate::act::Act;
use crate::arch::Arch;
use crate::mbconv::{BATCH_NORM_MOMENTUM, MbConv, conv, new_batch_norm};
use crate::norm::batch_norm;
use crate::top::{BackboneTop, TopParts, forward_top, freeze_statistics};

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
    /// The stem and this many stages are frozen ([`Self::freeze_stages`]): they run as at
    /// inference, off the autodiff graph.
    #[module(skip)]
    pub frozen_stages: usize,
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
            frozen_stages: 0,
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

    /// [`Self::forward_features`] for inference on a plain device, image by image, the images spread
    /// over rayon's threads (burn-flex runs one network on one core).
    ///
    /// One image at a time is also the fastest way on one core: its activations (4.8 MB at most for
    /// lite0 at 224 px) stay in cache between layers and below glibc's mmap threshold, where a batch
    /// of 64 streamed every layer through memory and mapped and unmapped every temporary (page faults
    /// and TLB shootdowns were a third of the time). `ablate backbone bench`, lite0 at 224 px, 2
    /// threads: 52 images/s one by one, 39 in fours, 23 in halves of the batch.
    ///
    /// Every layer computes image by image (burn-flex convolves each image on its own; BatchNorm in
    /// eval mode, activations and pooling are per image), so the split changes the speed, never the
    /// numbers: the features are bit-identical whatever the thread count (tested). On an autodiff
    /// device BatchNorm may use batch statistics, so the batch stays whole there. On a device
    /// backend (wgpu, cuda) the batch is the unit of work: it goes through whole.
    pub fn forward_features_per_image(&self, x: Tensor<4>) -> Tensor<2> {
        per_image(x, |images| self.forward_features(images))
    }

    /// [`Self::forward_features`] with drop-connect: `drop_connect[i]` is block i's per-image scale
    /// `[batch, 1, 1, 1]` (see [`MbConv::forward_with`]); missing entries and `None` mean none.
    /// Draw them with the rates of [`Self::drop_connect_rates`].
    ///
    /// Frozen stages ([`Self::freeze_stages`]) run as at inference (running statistics, no
    /// drop-connect) on the plain device, exactly as [`Self::forward_cut`] computes the activations
    /// a cut cache holds: training from that cache is this forward, minus the frozen part.
    pub fn forward_features_train(
        &self,
        x: Tensor<4>,
        drop_connect: &[Option<Tensor<4>>],
    ) -> Tensor<2> {
        let first = self.first_trained_block();
        let x = if self.frozen_stages > 0 && x.device().is_autodiff() {
            Tensor::from_inner(
                self.bottom_valid()
                    .forward_cut(x.inner(), self.frozen_stages),
            )
        } else if self.frozen_stages > 0 {
            self.forward_cut(x, self.frozen_stages)
        } else {
            self.forward_stem(x)
        };
        forward_top(
            TopParts {
                blocks: &self.blocks[first..],
                first,
                conv_head: &self.conv_head,
                bn1: &self.bn1,
                act: self.act,
            },
            x,
            drop_connect,
        )
    }

    fn forward_stem(&self, x: Tensor<4>) -> Tensor<4> {
        self.act
            .forward(batch_norm(&self.bn0, self.conv_stem.forward(x)))
    }

    /// The activations entering stage `stage` (0-based, of the 7): the stem and the blocks of the
    /// stages before it, as at inference. What a cut cache holds for each image.
    ///
    /// # Shapes
    /// - input: `[batch, 3, h, w]`, output: `[batch, channels, h', w']` ([`Self::cut_shape`])
    pub fn forward_cut(&self, x: Tensor<4>, stage: usize) -> Tensor<4> {
        let mut x = self.forward_stem(x);
        for block in self.blocks.iter().take_while(|b| b.stage < stage) {
            x = block.forward(x);
        }
        x
    }

    /// [`Self::forward_cut`] image by image over rayon's threads on flex (bit-identical to the
    /// whole batch, as [`Self::forward_features_per_image`]).
    pub fn forward_cut_per_image(&self, x: Tensor<4>, stage: usize) -> Tensor<4> {
        per_image(x, |image| self.forward_cut(image, stage))
    }

    /// `[channels, h, w]` of [`Self::forward_cut`] for square images of `image_size` pixels:
    /// every stride-2 layer halves the side, rounding up (TF's `Same` padding).
    pub fn cut_shape(&self, stage: usize, image_size: usize) -> [usize; 3] {
        let stem = self.conv_stem.weight.dims()[0];
        let mut side = image_size.div_ceil(2);
        let mut channels = stem;
        for block in self.blocks.iter().take_while(|b| b.stage < stage) {
            side = side.div_ceil(block.depthwise_conv.stride[0]);
            channels = block.project_conv.weight.dims()[0];
        }
        [channels, side, side]
    }

    /// The index of the first block that trains (after the frozen stages).
    fn first_trained_block(&self) -> usize {
        self.blocks
            .iter()
            .take_while(|b| b.stage < self.frozen_stages)
            .count()
    }

    /// The stem and the frozen blocks on the plain device (cheap: the tensors are shared).
    fn bottom_valid(&self) -> EfficientNet {
        let first = self.first_trained_block();
        EfficientNet {
            conv_stem: self.conv_stem.valid(),
            bn0: self.bn0.valid(),
            blocks: self.blocks[..first].iter().map(Module::valid).collect(),
            conv_head: self.conv_head.valid(),
            bn1: self.bn1.valid(),
            fc: None,
            act: self.act,
            frozen_stages: self.frozen_stages,
        }
    }

    /// The part that trains when the stem and the first `stage` stages are frozen: the blocks from
    /// stage `stage` on, the head conv and its BatchNorm. It trains from a cut cache
    /// ([`Self::forward_cut`]) as the whole network trains with those stages frozen.
    pub fn into_top(self, stage: usize) -> BackboneTop {
        let first = self.blocks.iter().take_while(|b| b.stage < stage).count();
        BackboneTop {
            blocks: self.blocks.into_iter().skip(first).collect(),
            conv_head: self.conv_head,
            bn1: self.bn1,
            act: self.act,
            first_block: first,
        }
    }

    /// Per block, the probability that drop-connect drops its residual branch for an image:
    /// lukemelas' schedule, `rate * index / blocks` (0 for the first block, for blocks without
    /// a residual connection, which drop-connect does not touch, and for frozen stages, which run
    /// as at inference).
    pub fn drop_connect_rates(&self, rate: f64) -> Vec<f64> {
        let n = self.blocks.len() as f64;
        self.blocks
            .iter()
            .enumerate()
            .map(|(i, b)| {
                if b.skip && b.stage >= self.frozen_stages {
                    rate * i as f64 / n
                } else {
                    0.0
                }
            })
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
        self.frozen_stages = stages;
        self
    }

    /// The BatchNorms that train normalize with their running (pretrained) statistics instead of
    /// the batch's, and never update them, while their scale and shift still train: the common
    /// fine-tuning recipe of BatchNorm kept in eval mode (`model.train()` then `bn.eval()` in
    /// PyTorch; Keras' `training=False`).
    pub fn with_running_batch_norm(mut self) -> Self {
        for bn in self.batch_norms_mut() {
            freeze_statistics(bn);
        }
        self
    }

    /// Replaces the running statistics of every BatchNorm that trains with the average of its batch
    /// statistics over `batches` (the training images, in train-mode batches, no drop-connect):
    /// "precise BN" (Wu & Johnson 2021; PyTorch's `swa_utils.update_bn`). Fine-tuning moves the
    /// backbone's activations far faster than momentum 0.01 follows them when a run has hundreds of
    /// steps, not ImageNet's hundreds of thousands, so eval mode would normalize with statistics of
    /// earlier weights. Frozen BatchNorms keep theirs. Needs an autodiff device (batch statistics);
    /// training itself never reads running statistics, so this changes evaluations only.
    pub fn recompute_batch_norm_stats(self, batches: impl IntoIterator<Item = Tensor<4>>) -> Self {
        recompute_statistics(
            self,
            batches,
            |m, momentum| m.batch_norms_mut().for_each(|bn| bn.momentum = momentum),
            |m, batch| {
                let _ = m.forward_features(batch);
            },
        )
    }

    fn batch_norms_mut(&mut self) -> impl Iterator<Item = &mut BatchNorm> {
        std::iter::once(&mut self.bn0)
            .chain(
                self.blocks
                    .iter_mut()
                    .flat_map(|b| b.bn0.as_mut().into_iter().chain([&mut b.bn1, &mut b.bn2])),
            )
            .chain(std::iter::once(&mut self.bn1))
    }

    /// ImageNet logits from pooled features (dropout is inactive in eval), if there is a classifier.
    pub fn forward_head(&self, features: Tensor<2>) -> Option<Tensor<2>> {
        self.fc
            .as_ref()
            .map(|fc| ablate_matmul::linear(fc, features))
    }
}

/// `forward` image by image over rayon's threads on flex, the images' outputs concatenated; the
/// whole batch at once on an autodiff device (batch statistics) or a device backend (the batch
/// is the unit of work there). On flex every layer computes image by image, so the split changes
/// the speed, never the numbers.
pub(crate) fn per_image<const D: usize>(
    x: Tensor<4>,
    forward: impl Fn(Tensor<4>) -> Tensor<D> + Sync,
) -> Tensor<D> {
    let [batch, ..] = x.dims();
    let device = x.device();
    if batch <= 1 || device.is_autodiff() || !ablate_matmul::is_flex(&device) {
        return forward(x);
    }
    let outputs: Vec<Tensor<D>> = x.split(1, 0).into_par_iter().map(&forward).collect();
    Tensor::cat(outputs, 0)
}

/// Precise BN for `model`: its training BatchNorms' running statistics become the image-weighted
/// mean of their batch statistics over `batches` (each batch's momentum its share of the images
/// so far, the first replacing the old value); `set_momentum` sets every such BatchNorm's momentum,
/// `forward` runs a batch in train mode. The momentum comes back afterwards.
pub(crate) fn recompute_statistics<M>(
    mut model: M,
    batches: impl IntoIterator<Item = Tensor<4>>,
    set_momentum: impl Fn(&mut M, f64),
    forward: impl Fn(&M, Tensor<4>),
) -> M {
    let mut seen = 0usize;
    for batch in batches {
        let n = batch.dims()[0];
        seen += n;
        set_momentum(&mut model, n as f64 / seen as f64);
        forward(&model, batch);
    }
    set_momentum(&mut model, BATCH_NORM_MOMENTUM);
    model
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lite0() -> EfficientNet {
        let arch = Arch::from_name("efficientnet-lite0").unwrap();
        EfficientNet::new(&arch, false, &Device::flex().autodiff())
    }

    /// Splitting a batch over threads leaves every image's features bit-identical, with SE (b0) and
    /// without (lite0), whatever the number of threads and however unevenly the batch divides.
    #[test]
    fn split_batches_give_bit_identical_features() {
        for name in ["efficientnet-lite0", "efficientnet-b0"] {
            let device = Device::flex();
            let model = EfficientNet::new(&Arch::from_name(name).unwrap(), false, &device);
            let x = Tensor::<4>::random(
                [5, 3, 40, 40],
                burn::tensor::Distribution::Normal(0.0, 1.0),
                &device,
            );
            let whole = model.forward_features(x.clone()).into_data();
            for threads in [2, 3, 8] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let split = pool.install(|| model.forward_features_per_image(x.clone()));
                assert_eq!(split.into_data(), whole, "{name}, {threads} threads");
            }
        }
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

    fn images(n: usize, offset: f32, device: &Device) -> Tensor<4> {
        let values: Vec<f32> = (0..n * 3 * 32 * 32)
            .map(|i| ((i as f32 * 0.37).sin() + offset) * 0.5)
            .collect();
        Tensor::from_data(
            burn::tensor::TensorData::new(values, [n, 3, 32, 32]),
            device,
        )
    }

    /// Precise BN: the running statistics become the image-weighted mean of the batches' own
    /// statistics (checked on the stem's BN, whose input does not depend on any normalization),
    /// momentum comes back, and frozen BatchNorms keep theirs.
    #[test]
    fn recomputed_batch_norm_statistics_are_the_image_weighted_batch_means() {
        let device = Device::flex().autodiff();
        let (a, b) = (images(2, 0.0, &device), images(3, 1.0, &device));
        // `value_sync`: a RunningState's plain `value` may not show its latest update yet.
        let running_mean = |bn: &BatchNorm| {
            bn.running_mean
                .value_sync()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap()
        };

        let model = lite0();
        let stem_mean = |x: Tensor<4>| {
            let y = model.conv_stem.forward(x);
            let [_, c, _, _] = y.dims();
            y.mean_dim(0)
                .mean_dim(2)
                .mean_dim(3)
                .reshape([c])
                .into_data()
                .try_to_vec::<f32>()
                .unwrap()
        };
        let (mean_a, mean_b) = (stem_mean(a.clone()), stem_mean(b.clone()));
        let model = model.recompute_batch_norm_stats([a.clone(), b.clone()]);
        let running = running_mean(&model.bn0);
        for (c, m) in running.iter().enumerate() {
            let expected = (2.0 * mean_a[c] + 3.0 * mean_b[c]) / 5.0;
            assert!(
                (m - expected).abs() <= 1e-5 * (1.0 + expected.abs()),
                "channel {c}: {m} vs {expected}"
            );
        }
        assert!(
            running.iter().any(|m| m.abs() > 1e-3),
            "the stem's outputs are not centred"
        );
        assert!(model.blocks.iter().all(|b| b.bn1.momentum == 0.01) && model.bn1.momentum == 0.01);

        // Frozen with stage 0: the stem's BN and block 0's keep their (fresh: zero) means; a
        // later stage's BN is recomputed.
        let model = lite0().freeze_stages(1).recompute_batch_norm_stats([a, b]);
        assert!(running_mean(&model.bn0).iter().all(|m| *m == 0.0));
        assert!(running_mean(&model.blocks[0].bn1).iter().all(|m| *m == 0.0));
        assert!(running_mean(&model.bn1).iter().any(|m| *m != 0.0));
    }
}
