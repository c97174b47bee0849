//! The one training loop: epochs of shuffled mini-batches with the paired design's draws, val after
//! every epoch. What a regime does in a step is a [`TrainStep`] (burn-train's `TrainStep`/`ValidStep`
//! split); the frozen head and the fine-tuned network are two implementations driven by
//! [`run_epochs`], so their batch order, skipped batches, draws, loss and claim A's gradient reading
//! cannot drift apart.

use ablate_data::epoch_order;
use ablate_heads::Head;
use ablate_results::EpochMetrics;
use ablate_spec::Cell;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Gradients, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::draws::{DrawSpec, StepDraws, step_key};
use crate::error::TrainError;
use crate::evaluate::Evaluation;

/// What one training regime does; [`run_epochs`] decides when.
pub(crate) trait TrainStep: Sized {
    /// Logits of a training forward (train mode, on the autodiff device) over the training rows
    /// `batch`, with the step's draws.
    fn forward(&self, batch: &[usize], draws: &StepDraws, device: &Device) -> Tensor<2>;
    /// The head, where claim A's pre-BN bias gradient is read.
    fn head(&self) -> &Head;
    /// One optimizer step with the gradients of the backward pass.
    fn step(self, grads: Gradients) -> Self;
    /// Eval-mode val loss and accuracy at the end of an epoch (on the plain device).
    fn validate(self, device: &Device) -> (Self, Evaluation);
}

/// What the training split and the step's draws look like.
pub(crate) struct Schedule<'a> {
    pub cell: &'a Cell,
    pub epochs: usize,
    pub batch_size: usize,
    /// The training split's labels (its rows are `0..labels.len()`).
    pub labels: &'a [u32],
    pub classes: usize,
    /// Per backbone block (fine-tuning); empty for a frozen backbone.
    pub drop_connect_rates: &'a [f64],
    pub input_dropout: f64,
    /// Width of the features the input dropout masks.
    pub features: usize,
    /// The mlp head's dropout width (0: none).
    pub head_dropout_width: usize,
}

/// What the epochs so far recorded: the state a checkpoint keeps besides the weights.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochLog {
    pub epochs: Vec<EpochMetrics>,
    pub steps: usize,
    pub dropped_single_sample_batch: bool,
}

/// Trains `learner` from the epoch after `log`'s last (0 for a fresh start) to `schedule.epochs`,
/// calling `after_epoch` with the state after each (checkpoint, progress). Training steps run on
/// `train_device` (autodiff); validation on its inner device.
pub(crate) fn run_epochs<S: TrainStep>(
    mut learner: S,
    schedule: &Schedule,
    mut log: EpochLog,
    train_device: &Device,
    mut after_epoch: impl FnMut(&S, &EpochLog) -> Result<(), TrainError>,
) -> Result<(S, EpochLog), TrainError> {
    let device = train_device.clone().inner();
    let cell = schedule.cell;
    for epoch in log.epochs.len()..schedule.epochs {
        let order = epoch_order(
            schedule.labels.len(),
            cell.train_per_class,
            cell.seed,
            epoch,
        );
        let mut loss_sum = 0.0f64;
        let mut epoch_steps = 0usize;
        let mut bias_grad_max: Option<f64> = None;
        for (step, batch) in order.chunks(schedule.batch_size).enumerate() {
            if batch.len() < 2 {
                // BatchNorm cannot train on a single sample.
                log.dropped_single_sample_batch = true;
                continue;
            }
            // One draw per (seed, size, epoch, step), shared by every variant and rate (a feature
            // dropped at p = 0.2 is dropped at p = 0.4 too) and by both regimes.
            let key = step_key(cell, epoch, step);
            let draws = StepDraws::draw(
                &DrawSpec {
                    seed: cell.seed,
                    step_key: &key,
                    batch: batch.len(),
                    drop_connect_rates: schedule.drop_connect_rates,
                    input_dropout: schedule.input_dropout,
                    features: schedule.features,
                    head_dropout_width: schedule.head_dropout_width,
                },
                train_device,
            );
            let logits = learner.forward(batch, &draws, train_device);
            let targets = one_hot(schedule.labels, batch, schedule.classes, train_device);
            let (loss, loss_value) = checked_loss(logits, targets, cell, epoch, step)?;
            let grads = loss.backward();
            track_bias_grad(learner.head(), &grads, &mut bias_grad_max);
            learner = learner.step(grads);
            loss_sum += f64::from(loss_value);
            epoch_steps += 1;
        }
        log.steps += epoch_steps;
        let (validated, val) = learner.validate(&device);
        learner = validated;
        log.epochs.push(EpochMetrics {
            epoch: epoch + 1,
            train_loss: loss_sum / epoch_steps.max(1) as f64,
            val_loss: val.loss,
            val_acc: val.acc,
            bias_grad_max,
        });
        after_epoch(&learner, &log)?;
    }
    Ok((learner, log))
}

/// Mean cross-entropy of a training batch and its value; a loss that is not finite ends the cell.
fn checked_loss(
    logits: Tensor<2>,
    targets: Tensor<2>,
    cell: &Cell,
    epoch: usize,
    step: usize,
) -> Result<(Tensor<1>, f32), TrainError> {
    let loss = (log_softmax(logits, 1) * targets).sum_dim(1).mean().neg();
    let value = loss.clone().into_scalar::<f32>();
    if !value.is_finite() {
        return Err(TrainError::Diverged {
            cell: cell.id(),
            epoch: epoch + 1,
            step,
            loss: value,
        });
    }
    Ok((loss, value))
}

/// Folds the largest |gradient| of the head's pre-BN bias (claim A's measurement) into `max`.
fn track_bias_grad(head: &Head, grads: &Gradients, max: &mut Option<f64>) {
    if let Some(bias) = head.bias_before_bn() {
        let g = bias
            .val()
            .grad(grads)
            .map_or(0.0, |g| g.abs().max().into_scalar::<f64>());
        *max = Some(max.map_or(g, |m| m.max(g)));
    }
}

/// One-hot targets `[rows, classes]` of the given rows of `labels`.
pub(crate) fn one_hot(
    labels: &[u32],
    rows: &[usize],
    classes: usize,
    device: &Device,
) -> Tensor<2> {
    let mut onehot = vec![0.0f32; rows.len() * classes];
    for (row, &i) in rows.iter().enumerate() {
        onehot[row * classes + labels[i] as usize] = 1.0;
    }
    Tensor::<2>::from_data(TensorData::new(onehot, [rows.len(), classes]), device)
}
