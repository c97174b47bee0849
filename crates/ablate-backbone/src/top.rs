//! The part of the network that trains above a cut: fine-tuning "the last blocks" from cached
//! activations, so a step costs only what trains.

use burn::module::Module;
use burn::nn::BatchNorm;
use burn::nn::conv::Conv2d;
use burn::tensor::Tensor;

use crate::act::Act;
use crate::mbconv::MbConv;
use crate::model::{per_image, recompute_statistics};
use crate::norm::batch_norm;

/// The blocks from a stage on, the head conv and its BatchNorm ([`crate::EfficientNet::into_top`]).
/// Its input is what [`crate::EfficientNet::forward_cut`] gives; its output the pooled features.
/// On an autodiff device its BatchNorms train on batch statistics (unless
/// [`Self::with_running_batch_norm`]), as the same blocks do inside the whole network.
#[derive(Module, Debug)]
pub struct BackboneTop {
    pub blocks: Vec<MbConv>,
    pub conv_head: Conv2d,
    pub bn1: BatchNorm,
    #[module(skip)]
    pub act: Act,
    /// The whole network's index of `blocks[0]`: drop-connect draws and rates are per block of
    /// the whole network, so the top draws what the whole network's same blocks draw.
    #[module(skip)]
    pub first_block: usize,
}

/// What [`forward_top`] runs: the top's layers, borrowed from a whole network or from a
/// [`BackboneTop`], so both run the same code.
pub(crate) struct TopParts<'a> {
    pub blocks: &'a [MbConv],
    pub first: usize,
    pub conv_head: &'a Conv2d,
    pub bn1: &'a BatchNorm,
    pub act: Act,
}

/// The blocks, the head conv + BN + activation, averaged over height and width; `drop_connect`
/// is indexed by the whole network's block.
pub(crate) fn forward_top(
    top: TopParts,
    mut x: Tensor<4>,
    drop_connect: &[Option<Tensor<4>>],
) -> Tensor<2> {
    for (i, block) in top.blocks.iter().enumerate() {
        x = block.forward_with(x, drop_connect.get(top.first + i).cloned().flatten());
    }
    let x = top.act.forward(batch_norm(
        top.bn1,
        ablate_matmul::conv1x1(top.conv_head, x),
    ));
    x.mean_dim(3).mean_dim(2).flatten(1, 3)
}

/// BatchNorm on its running statistics, never updated; its scale and shift still train.
pub(crate) fn freeze_statistics(bn: &mut BatchNorm) {
    bn.training = bn.training.clone().with_value(false);
}

impl BackboneTop {
    fn parts(&self) -> TopParts<'_> {
        TopParts {
            blocks: &self.blocks,
            first: self.first_block,
            conv_head: &self.conv_head,
            bn1: &self.bn1,
            act: self.act,
        }
    }

    /// Pooled features of cut activations `[batch, c, h, w]` (eval mode on a plain device).
    pub fn forward_features(&self, x: Tensor<4>) -> Tensor<2> {
        forward_top(self.parts(), x, &[])
    }

    /// [`Self::forward_features`] with drop-connect, `drop_connect` indexed by the whole
    /// network's block (draw it with the whole network's rates).
    pub fn forward_features_train(
        &self,
        x: Tensor<4>,
        drop_connect: &[Option<Tensor<4>>],
    ) -> Tensor<2> {
        forward_top(self.parts(), x, drop_connect)
    }

    /// [`crate::EfficientNet::with_running_batch_norm`] for the top.
    pub fn with_running_batch_norm(mut self) -> Self {
        for bn in self.batch_norms_mut() {
            freeze_statistics(bn);
        }
        self
    }

    /// [`crate::EfficientNet::recompute_batch_norm_stats`] for the top: the batches are cut
    /// activations of the training images.
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

    /// [`Self::forward_features`] image by image over rayon's threads on flex (bit-identical to
    /// the whole batch, as [`crate::EfficientNet::forward_features_per_image`]).
    pub fn forward_features_per_image(&self, x: Tensor<4>) -> Tensor<2> {
        per_image(x, |image| self.forward_features(image))
    }

    fn batch_norms_mut(&mut self) -> impl Iterator<Item = &mut BatchNorm> {
        self.blocks
            .iter_mut()
            .flat_map(|b| b.bn0.as_mut().into_iter().chain([&mut b.bn1, &mut b.bn2]))
            .chain(std::iter::once(&mut self.bn1))
    }
}
