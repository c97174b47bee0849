//! The one training loop: epochs of shuffled mini-batches with the paired design's draws, val after
//! every epoch. What a regime does in a step is a [`TrainStep`] (burn-train's `TrainStep`/`ValidStep`
//! split); the frozen head and the fine-tuned network are two implementations driven by
//! [`run_epochs`], so their batch order, skipped batches, draws, loss and claim A's gradient reading
//! cannot drift apart. The steps' losses and gradient maxima stay on the device until the epoch ends,
//! then are read in one go: on a device backend a read per step would make every step wait.

use ablate_data::epoch_order;
use ablate_heads::SequentialHead;
use ablate_record::{EpochLog, EpochMetrics};
use ablate_spec::Cell;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Gradients, Tensor, TensorData};

use crate::draws::{DrawSpec, StepDraws, step_key};
use crate::error::TrainError;
use crate::evaluate::Evaluation;
use crate::host_reads::read_floats;

/// What one training regime does; [`run_epochs`] decides when.
pub(crate) trait TrainStep: Sized {
    /// Logits of a training forward (train mode, on the autodiff device) over the training rows
    /// `batch`, with the step's draws.
    fn forward(&self, batch: &[usize], draws: &StepDraws, device: &Device) -> Tensor<2>;
    /// The head, where claim A's pre-BN bias gradient is read.
    fn head(&self) -> &SequentialHead;
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
    /// The head's dropout layers that draw ([`ablate_heads::SequentialHead::dropout_draws`]).
    pub head_dropouts: Vec<ablate_heads::DropoutDraws>,
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
            cell.draw_seed(),
            epoch,
        );
        let mut readings = EpochReadings::default();
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
                    seed: cell.draw_seed(),
                    step_key: &key,
                    batch: batch.len(),
                    drop_connect_rates: schedule.drop_connect_rates,
                    input_dropout: schedule.input_dropout,
                    features: schedule.features,
                    head_dropouts: &schedule.head_dropouts,
                },
                train_device,
            );
            let logits = learner.forward(batch, &draws, train_device);
            let targets = one_hot(schedule.labels, batch, schedule.classes, train_device);
            let loss = cross_entropy(logits, targets);
            let grads = loss.backward();
            let bias_grad = bias_grad_max(learner.head(), &grads);
            readings.push(step, loss.inner(), bias_grad);
            learner = learner.step(grads);
        }
        let EpochSummary {
            loss_sum,
            steps: epoch_steps,
            bias_grad_max,
        } = readings.read(cell, epoch)?;
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

/// Mean cross-entropy of logits against one-hot targets (the one definition every trainer uses).
pub fn cross_entropy(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    (log_softmax(logits, 1) * targets).sum_dim(1).mean().neg()
}

/// The largest |gradient| of the head's pre-BN biases in one step (claim A's measurement), on the
/// device; `None` when the head has no such bias.
fn bias_grad_max(head: &SequentialHead, grads: &Gradients) -> Option<Tensor<1>> {
    let maxima: Vec<Tensor<1>> = head
        .biases_before_bn()
        .into_iter()
        .map(|bias| {
            let bias = bias.val();
            match bias.grad(grads) {
                Some(g) => g.abs().max(),
                None => Tensor::zeros([1], &bias.device().inner()),
            }
        })
        .collect();
    match maxima.len() {
        0 => None,
        1 => maxima.into_iter().next(),
        _ => Some(Tensor::cat(maxima, 0).max()),
    }
}

/// What an epoch's steps measured, kept on the device until the epoch ends: reading a loss every
/// step would make every step wait for the device (see [`crate::host_reads`]).
#[derive(Default)]
struct EpochReadings {
    /// The step index (in the epoch's batch order) of each loss.
    steps: Vec<usize>,
    losses: Vec<Tensor<1>>,
    bias_maxima: Vec<Tensor<1>>,
}

/// An epoch's readings on the host.
pub(crate) struct EpochSummary {
    /// Of the steps' losses, in step order, in f64.
    pub loss_sum: f64,
    pub steps: usize,
    pub bias_grad_max: Option<f64>,
}

impl EpochReadings {
    fn push(&mut self, step: usize, loss: Tensor<1>, bias_grad_max: Option<Tensor<1>>) {
        self.steps.push(step);
        self.losses.push(loss);
        self.bias_maxima.extend(bias_grad_max);
    }

    /// Reads the epoch's losses and bias-gradient maxima in one read. A loss that is not finite ends
    /// the cell with the step that made it (the steps after it ran for nothing: the cost of not
    /// waiting for the device at every step).
    fn read(self, cell: &Cell, epoch: usize) -> Result<EpochSummary, TrainError> {
        let steps = self.losses.len();
        if steps == 0 {
            return Ok(EpochSummary {
                loss_sum: 0.0,
                steps: 0,
                bias_grad_max: None,
            });
        }
        let with_bias = !self.bias_maxima.is_empty();
        let values = read_floats(Tensor::cat(
            self.losses.into_iter().chain(self.bias_maxima).collect(),
            0,
        ));
        let (losses, maxima) = values.split_at(steps);
        summarize(
            &self.steps,
            losses,
            with_bias.then_some(maxima),
            cell,
            epoch,
        )
    }
}

/// An epoch's readings on the host: `losses` in step order (`steps` are their indices in the
/// epoch's batch order), the bias-gradient maxima when the head has such a bias. A loss that is
/// not finite ends the cell with the step that made it.
pub(crate) fn summarize(
    steps: &[usize],
    losses: &[f32],
    maxima: Option<&[f32]>,
    cell: &Cell,
    epoch: usize,
) -> Result<EpochSummary, TrainError> {
    if let Some((&step, &loss)) = steps.iter().zip(losses).find(|(_, loss)| !loss.is_finite()) {
        return Err(TrainError::Diverged {
            cell: cell.id(),
            epoch: epoch + 1,
            step,
            loss,
        });
    }
    Ok(EpochSummary {
        loss_sum: losses.iter().map(|&l| f64::from(l)).sum(),
        steps: losses.len(),
        bias_grad_max: maxima.map(|m| m.iter().fold(0.0f64, |m, &g| m.max(f64::from(g)))),
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use ablate_spec::HeadVariant;

    fn scalar(v: f32) -> Tensor<1> {
        Tensor::from_floats([v], &Device::flex())
    }

    fn cell() -> Cell {
        Cell {
            head: HeadVariant::mlp(),
            train_per_class: 25,
            seed: 0,
        }
    }

    /// An epoch's readings give the numbers a read per step gave: the losses summed in step order in
    /// f64, the largest bias gradient, the steps counted (a skipped batch is no step).
    #[test]
    fn an_epochs_readings_sum_and_maximise_like_per_step_reads() {
        let mut readings = EpochReadings::default();
        readings.push(0, scalar(1.5), Some(scalar(1e-8)));
        // Step 1 was a batch of one, skipped.
        readings.push(2, scalar(0.25), Some(scalar(3e-8)));
        readings.push(3, scalar(0.1), Some(scalar(2e-8)));
        let summary = readings.read(&cell(), 4).unwrap();
        assert_eq!(summary.steps, 3);
        assert_eq!(
            summary.loss_sum,
            1.5f64 + 0.25f64 + f64::from(0.1f32),
            "f32 losses summed in f64"
        );
        assert_eq!(summary.bias_grad_max, Some(f64::from(3e-8f32)));

        let without_bias = EpochReadings {
            steps: vec![0],
            losses: vec![scalar(0.5)],
            bias_maxima: vec![],
        };
        assert_eq!(without_bias.read(&cell(), 0).unwrap().bias_grad_max, None);
        assert_eq!(
            EpochReadings::default().read(&cell(), 0).unwrap().steps,
            0,
            "an epoch of skipped batches reads nothing"
        );
    }

    /// A loss that is not finite ends the cell naming its epoch (1-based) and the first step that
    /// made one, as when every step was read, though the steps after it ran.
    #[test]
    fn a_non_finite_loss_names_the_first_step_that_made_it() {
        let mut readings = EpochReadings::default();
        readings.push(0, scalar(1.5), None);
        readings.push(2, scalar(f32::NAN), None);
        readings.push(3, scalar(f32::INFINITY), None);
        match readings.read(&cell(), 4) {
            Err(TrainError::Diverged {
                cell: id,
                epoch,
                step,
                loss,
            }) => {
                assert_eq!((id, epoch, step), (cell().id(), 5, 2));
                assert!(loss.is_nan());
            }
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("a NaN loss was accepted"),
        }
    }
}
