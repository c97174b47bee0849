//! The random draws of one training step, shared by both regimes: every draw comes from a stream
//! keyed by the cell's seed and the step ([`step_key`]), so every variant of one seed and size sees
//! the same draws (the paired design), and a cell resumed after epoch k draws what an uninterrupted
//! run draws.

use ablate_heads::DropoutDraws;
use ablate_spec::Cell;
use ablate_spec::seeding::stream;
use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng;

/// The key of one training step's random draws within a cell's seed. Keyed by size, epoch and step
/// (not by variant), so variants of one seed share them.
pub fn step_key(cell: &Cell, epoch: usize, step: usize) -> String {
    format!("n{}/epoch{epoch}/step{step}", cell.train_per_class)
}

/// The random draws of one training step (the frozen regime leaves `drop_connect` empty).
#[derive(Debug, Clone, Default)]
pub struct StepDraws {
    /// Per backbone block, drop-connect's per-image scale `[batch, 1, 1, 1]` (`None`: off).
    pub drop_connect: Vec<Option<Tensor<4>>>,
    /// The backbone's dropout on the pooled features: keep-scale `[batch, features]`.
    pub input_mask: Option<Tensor<2>>,
    /// Uniform draws `[batch, width]` for each of the head's dropout layers that draws
    /// (`SequentialHead::dropout_draws`), in its order.
    pub head_dropout: Vec<Tensor<2>>,
}

/// Where one step's draws come from and what they are for.
#[derive(Debug, Clone, Copy)]
pub struct DrawSpec<'a> {
    pub seed: u64,
    /// Names the step within the cell's seed (e.g. `n25/epoch3/step7`): the stream key.
    pub step_key: &'a str,
    pub batch: usize,
    /// Per backbone block (`EfficientNet::drop_connect_rates`); empty for a frozen backbone.
    pub drop_connect_rates: &'a [f64],
    pub input_dropout: f64,
    pub features: usize,
    /// The head's dropout layers that draw: each one's stream key and width.
    pub head_dropouts: &'a [DropoutDraws],
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
            let p = spec.input_dropout;
            let len = spec.batch * spec.features;
            let mask: Vec<f32> = input_uniforms(spec.seed, spec.step_key, len)
                .into_iter()
                .map(|u| input_keep(u, p))
                .collect();
            Tensor::<2>::from_data(TensorData::new(mask, [spec.batch, spec.features]), device)
        });
        // Each layer's own stream (model1's one dropout layer is `dropout`: its key since issue 9).
        let head_dropout = spec
            .head_dropouts
            .iter()
            .map(|d| {
                let u = dropout_uniforms(spec.seed, &d.key, spec.step_key, spec.batch * d.width);
                Tensor::<2>::from_data(TensorData::new(u, [spec.batch, d.width]), device)
            })
            .collect();
        StepDraws {
            drop_connect,
            input_mask,
            head_dropout,
        }
    }
}

/// The input dropout's uniform draws of one step (`len` = batch x features), shared by every rate.
pub(crate) fn input_uniforms(seed: u64, step_key: &str, len: usize) -> Vec<f64> {
    let mut rng = stream(seed, &format!("input-dropout/{step_key}"));
    (0..len).map(|_| rng.random::<f64>()).collect()
}

/// The input dropout's keep-scale for draw `u` at rate `p`: `1 / (1 - p)` or 0.
pub(crate) fn input_keep(u: f64, p: f64) -> f32 {
    if u >= p {
        (1.0 / (1.0 - p)) as f32
    } else {
        0.0
    }
}

/// The uniform draws of the head's dropout layer `layer` in one step (`len` = batch x width).
pub(crate) fn dropout_uniforms(seed: u64, layer: &str, step_key: &str, len: usize) -> Vec<f32> {
    let mut rng = stream(seed, &format!("{layer}/{step_key}"));
    (0..len).map(|_| rng.random::<f32>()).collect()
}
