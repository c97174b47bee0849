//! The experiment's optimizer, built with PyTorch's semantics.

use ablate_spec::{OptimizerKind, TrainSpec};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, ModuleOptimizer, SgdConfig};

/// Adam or SGD. Weight decay is an L2 term added to the gradient (PyTorch's `weight_decay`); SGD's
/// momentum has no dampening, as in PyTorch (burn's own default dampening is 0.1).
pub fn build(train: &TrainSpec) -> ModuleOptimizer {
    let weight_decay =
        (train.weight_decay > 0.0).then(|| WeightDecayConfig::new(train.weight_decay as f32));
    match train.optimizer {
        OptimizerKind::Adam => AdamConfig::new()
            .with_beta_1(train.betas[0] as f32)
            .with_beta_2(train.betas[1] as f32)
            .with_epsilon(train.eps as f32)
            .with_weight_decay(weight_decay)
            .init(),
        OptimizerKind::Sgd => SgdConfig::new()
            .with_weight_decay(weight_decay)
            .with_momentum((train.momentum > 0.0).then_some(MomentumConfig {
                momentum: train.momentum,
                dampening: 0.0,
                nesterov: false,
            }))
            .init(),
    }
}
