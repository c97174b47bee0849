//! Fine-tuning: the backbone trains together with the head, as the asker did it
//! (`EfficientNet.from_pretrained(...)`, `model._fc = head`, the whole network trained).
//!
//! The network in train mode is lukemelas' training forward: BatchNorms on batch statistics (running
//! averages with PyTorch's semantics; frozen stages keep theirs), drop-connect on the residual
//! blocks, the backbone's dropout on the pooled features (the `input_dropout` switch), then the head.
//! Every random draw is made by the caller from keyed streams ([`StepDraws::draw`]), so the paired
//! design holds: one seed, one step, the same draws for every head variant.

use ablate_backbone::EfficientNet;
use ablate_heads::Head;
use ablate_spec::seeding::stream;
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::Gradients;
use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng;

/// Backbone and head as one module: one backward pass reaches both.
#[derive(Module, Debug)]
pub struct FineTuneNet {
    pub backbone: EfficientNet,
    pub head: Head,
}

/// The random draws of one training step of a fine-tuning cell.
#[derive(Debug, Clone, Default)]
pub struct StepDraws {
    /// Per backbone block, drop-connect's per-image scale `[batch, 1, 1, 1]` (`None`: off).
    pub drop_connect: Vec<Option<Tensor<4>>>,
    /// The backbone's dropout on the pooled features: keep-scale `[batch, features]`.
    pub input_mask: Option<Tensor<2>>,
    /// Uniform draws `[batch, hidden]` for the mlp head's dropout.
    pub head_dropout: Option<Tensor<2>>,
}

/// Where one step's draws come from and what they are for.
#[derive(Debug, Clone, Copy)]
pub struct DrawSpec<'a> {
    pub seed: u64,
    /// Names the step within the cell's seed (e.g. `n25/epoch3/step7`): the stream key.
    pub step_key: &'a str,
    pub batch: usize,
    /// Per backbone block ([`EfficientNet::drop_connect_rates`]).
    pub drop_connect_rates: &'a [f64],
    pub input_dropout: f64,
    pub features: usize,
    /// The mlp head's dropout width (0: none).
    pub head_dropout_width: usize,
}

impl StepDraws {
    /// The draws of one step, each kind from its own keyed stream: the drop-connect draws do not
    /// depend on whether the head has dropout, so heads with and without it see the same backbone.
    pub fn draw(spec: &DrawSpec, device: &Device) -> Self {
        let mut rng = stream(spec.seed, &format!("drop-connect/{}", spec.step_key));
        let drop_connect = spec
            .drop_connect_rates
            .iter()
            .map(|&p| {
                // One draw per image and block even where p is 0: a block's draws do not shift
                // when another block's rate changes.
                let u: Vec<f64> = (0..spec.batch).map(|_| rng.random::<f64>()).collect();
                (p > 0.0).then(|| {
                    let keep = (1.0 / (1.0 - p)) as f32;
                    let scale: Vec<f32> =
                        u.iter().map(|&u| if u >= p { keep } else { 0.0 }).collect();
                    Tensor::<4>::from_data(TensorData::new(scale, [spec.batch, 1, 1, 1]), device)
                })
            })
            .collect();
        let input_mask = (spec.input_dropout > 0.0).then(|| {
            let mut rng = stream(spec.seed, &format!("input-dropout/{}", spec.step_key));
            let p = spec.input_dropout;
            let keep = (1.0 / (1.0 - p)) as f32;
            let len = spec.batch * spec.features;
            let mask: Vec<f32> = (0..len)
                .map(|_| if rng.random::<f64>() >= p { keep } else { 0.0 })
                .collect();
            Tensor::<2>::from_data(TensorData::new(mask, [spec.batch, spec.features]), device)
        });
        let head_dropout = (spec.head_dropout_width > 0).then(|| {
            let mut rng = stream(spec.seed, &format!("dropout/{}", spec.step_key));
            let len = spec.batch * spec.head_dropout_width;
            let u: Vec<f32> = (0..len).map(|_| rng.random::<f32>()).collect();
            Tensor::<2>::from_data(
                TensorData::new(u, [spec.batch, spec.head_dropout_width]),
                device,
            )
        });
        StepDraws {
            drop_connect,
            input_mask,
            head_dropout,
        }
    }
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
        self.head.forward(features, draws.head_dropout.clone())
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
