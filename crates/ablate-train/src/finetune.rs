//! Fine-tuning: the backbone trains together with the head, as the asker did it
//! (`EfficientNet.from_pretrained(...)`, `model._fc = head`, the whole network trained).
//!
//! The network in train mode is lukemelas' training forward: BatchNorms on batch statistics (running
//! averages with PyTorch's semantics; frozen stages keep theirs), drop-connect on the residual
//! blocks, the backbone's dropout on the pooled features (the `input_dropout` switch), then the head.
//! Every random draw is made by the caller from keyed streams ([`StepDraws::draw`]), so the paired
//! design holds: one seed, one step, the same draws for every head variant.

use ablate_backbone::EfficientNet;
use ablate_heads::SequentialHead;
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::Gradients;
use burn::tensor::Tensor;

use crate::draws::StepDraws;

/// Backbone and head as one module: one backward pass reaches both.
#[derive(Module, Debug)]
pub struct FineTuneNet {
    pub backbone: EfficientNet,
    pub head: SequentialHead,
}

impl FineTuneNet {
    /// Logits of a training forward (on an autodiff device: BatchNorms on batch statistics).
    pub fn forward_train(&self, images: Tensor<4>, draws: &StepDraws) -> Tensor<2> {
        let features = self
            .backbone
            .forward_features_train(images, &draws.drop_connect);
        let features = match &draws.input_mask {
            Some(mask) => features * mask.clone(),
            None => features,
        };
        self.head.forward(features, Some(&draws.head_dropout))
    }

    /// Logits in eval mode (call on [`Module::valid`]'s copy).
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.head
            .forward(self.backbone.forward_features(images), None)
    }
}

/// Learning rates of the two parts: fine-tuning usually moves the pretrained backbone more gently.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PartLr {
    pub backbone: f64,
    pub head: f64,
}

/// One optimizer step with each part's learning rate (one optimizer state for both).
pub fn optimizer_step(
    optim: &mut ModuleOptimizer,
    net: FineTuneNet,
    mut grads: Gradients,
    lr: PartLr,
) -> FineTuneNet {
    let backbone = GradientsParams::from_module(&mut grads, &net.backbone);
    let head = GradientsParams::from_module(&mut grads, &net.head);
    let net = optim.step(lr.backbone, net, backbone);
    optim.step(lr.head, net, head)
}
