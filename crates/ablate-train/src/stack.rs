//! Training a stack: frozen-feature cells of one seed and size whose heads share a layer list
//! (`ablate_spec::stack_key`) train as one [`StackedHead`], each row one group of cells that differ
//! in their epoch count alone (measured as the run passes each count, as
//! [`crate::train_cells_sharing_epochs`] does). A step is one forward and one backward for every
//! row, so burn's per-operation cost is paid once per step, not once per cell.
//!
//! Each row sees what training it alone sees: the same batch order and the same uniform draws
//! (they are keyed by seed, size, epoch and step, never by the variant), its own input-dropout and
//! dropout masks made from them at its own rates, its own learning rate and weight decay, and
//! each cell ends with the same evaluation and measurements (its head taken out of the stack,
//! [`StackedHead::head`]). The stack's readings (every row's losses and claim A's bias gradient)
//! stay on the device until the epoch ends and are read in one go, as one cell's are. A row whose
//! cells are all measured leaves the stack; a row whose loss is not finite fails alone.

use std::time::Instant;

use ablate_data::epoch_order;
use ablate_heads::{HeadConfig, StackedHead, keep_scale};
use ablate_record::{CellOutcome, EpochLog, EpochMetrics};
use ablate_spec::{Cell, TrainSpec};
use burn::module::Module;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};

use crate::draws::{dropout_uniforms, input_keep, input_uniforms, step_key};
use crate::epochs::{one_hot, summarize};
use crate::error::TrainError;
use crate::evaluate::evaluate;
use crate::host_reads::read_floats;
use crate::optimizer::AdamBetas;
use crate::source::{BatchSource, Split};
use crate::stacked_adam::StackedAdam;
use crate::trainer::{Trained, finish, head_config};

/// What a stack's run reports, as it happens.
pub enum StackEvent<'c> {
    /// A cell measured at its epoch count.
    Finished(&'c Cell, CellOutcome),
    /// Row `row`'s run ended with `error` after the first `done` of its cells were finished; the
    /// others are the caller's to record as failed. The other rows go on.
    Failed {
        row: usize,
        done: usize,
        error: TrainError,
    },
}

/// Trains `rows` (each a group of [`ablate_spec::epoch_prefix_groups`], in increasing epoch order;
/// all of one [`ablate_spec::stack_key`]) as one stack on `device` (a plain device: autodiff is
/// added here), on the batches of `source` (the rows' shared training subset, val and test).
/// `on` gets every cell the moment it is measured, and every row that fails.
pub fn train_stack<'c>(
    rows: &'c [Vec<Cell>],
    train: &TrainSpec,
    source: &impl BatchSource,
    device: &Device,
    mut on: impl FnMut(StackEvent<'c>),
) {
    let started = Instant::now();
    let longest: Vec<&Cell> = rows
        .iter()
        .map(|r| r.last().expect("a stack's row has a cell"))
        .collect();
    let Some(&first) = longest.first() else {
        return;
    };
    let train_device = device.clone().autodiff();
    let settings: Vec<TrainSpec> = longest.iter().map(|c| train.for_variant(&c.head)).collect();
    let input_rates: Vec<f64> = longest.iter().map(|c| c.head.input_dropout()).collect();
    // Rows of one input-dropout rate next to each other: they share an input (see
    // `StackedHead::forward`). The order changes no row's numbers.
    let mut live: Vec<usize> = (0..rows.len()).collect();
    live.sort_by(|&a, &b| input_rates[a].total_cmp(&input_rates[b]));
    let configs: Vec<HeadConfig> = live
        .iter()
        .map(|&r| {
            head_config(
                &longest[r].head,
                train,
                source.input_dim(),
                source.classes(),
            )
        })
        .collect();
    let mut head = StackedHead::init(&configs, first.draw_seed(), &train_device);
    let mut adam = StackedAdam::new(
        AdamBetas::of(&settings[0]),
        live.iter().map(|&r| settings[r].lr).collect(),
        live.iter().map(|&r| settings[r].weight_decay).collect(),
        &train_device,
    );
    let epochs_of = |c: &Cell| train.for_variant(&c.head).epochs;
    let (batch_size, seed) = (settings[0].batch_size, first.draw_seed());
    let labels = source.labels(Split::Train);
    let (dim, classes) = (source.input_dim(), source.classes());

    // `live`: the rows still training, by index into `rows`, in stack order.
    let mut logs = vec![EpochLog::default(); rows.len()];
    let mut done = vec![0usize; rows.len()];
    let mut epoch = 0;
    while !live.is_empty() {
        let order = epoch_order(labels.len(), first.train_per_class, seed, epoch);
        let dropouts = head.dropout_draws();
        let rates: Vec<f64> = live.iter().map(|&r| input_rates[r]).collect();
        let mut readings = StackReadings::default();
        for (step, batch) in order.chunks(batch_size).enumerate() {
            if batch.len() < 2 {
                // BatchNorm cannot train on a single sample.
                for &r in &live {
                    logs[r].dropped_single_sample_batch = true;
                }
                continue;
            }
            let key = step_key(first, epoch, step);
            let x = shared_inputs(
                &source.rows_host(Split::Train, batch),
                [batch.len(), dim],
                &rates,
                |len| input_uniforms(seed, &key, len),
                &train_device,
            );
            let keeps: Vec<Tensor<3>> = dropouts
                .iter()
                .map(|d| {
                    let u = dropout_uniforms(seed, &d.key, &key, batch.len() * d.width);
                    stacked_keep(&u, &d.rates, [batch.len(), d.width], &train_device)
                })
                .collect();
            let logits = head.forward(&x, &keeps);
            let targets = one_hot(labels, batch, classes, &train_device).unsqueeze_dim::<3>(0);
            let losses = stacked_cross_entropy(logits, targets);
            let mut grads = losses.clone().sum().backward();
            let bias = head.bias_grad_max(&grads);
            readings.push(step, losses.inner(), bias);
            adam.step(&mut head, &mut grads);
        }
        let values = readings.read(live.len());
        let mut staying = Vec::with_capacity(live.len());
        for (slot, &r) in live.iter().enumerate() {
            let cell = longest[r];
            let bias_reading = head.has_bias_before_bn(slot);
            let summary = match &values {
                None => Ok(crate::epochs::EpochSummary {
                    loss_sum: 0.0,
                    steps: 0,
                    bias_grad_max: None,
                }),
                Some(v) => summarize(
                    &v.steps,
                    &v.losses(slot),
                    v.maxima(slot).as_deref().filter(|_| bias_reading),
                    cell,
                    epoch,
                ),
            };
            let summary = match summary {
                Ok(s) => s,
                Err(error) => {
                    on(StackEvent::Failed {
                        row: r,
                        done: done[r],
                        error,
                    });
                    continue;
                }
            };
            let log = &mut logs[r];
            log.steps += summary.steps;
            let own = head.head(slot);
            let val = evaluate(&own.valid(), source, Split::Val, device);
            log.epochs.push(EpochMetrics {
                epoch: epoch + 1,
                train_loss: summary.loss_sum / summary.steps.max(1) as f64,
                val_loss: val.loss,
                val_acc: val.acc,
                bias_grad_max: summary.bias_grad_max,
            });
            for cell in rows[r].iter().filter(|c| epochs_of(c) == log.epochs.len()) {
                let trained = Trained {
                    head: own.clone(),
                    log: log.clone(),
                    fit: None,
                };
                on(StackEvent::Finished(
                    cell,
                    finish(trained, source, device, started),
                ));
                done[r] += 1;
            }
            if done[r] < rows[r].len() {
                staying.push(slot);
            }
        }
        head.retain(&staying);
        adam.retain(&staying);
        live = staying.iter().map(|&slot| live[slot]).collect();
        epoch += 1;
    }
}

/// Mean cross-entropy per row `[K]` of logits `[K, batch, classes]` against one-hot targets
/// `[1, batch, classes]`: [`crate::cross_entropy`]'s operations on each row (the class sum and the
/// batch mean as last-axis reductions, which burn-flex sums per row as it sums one cell's).
fn stacked_cross_entropy(logits: Tensor<3>, targets: Tensor<3>) -> Tensor<1> {
    let [k, batch, _] = logits.dims();
    (log_softmax(logits, 2) * targets)
        .sum_dim(2)
        .reshape([k, batch])
        .mean_dim(1)
        .neg()
        .reshape([k])
}

/// The stack's inputs as [`StackedHead::forward`] takes them: for each run of rows of one
/// input-dropout rate (in stack order), the batch's features `x` times the mask at that rate
/// (from the step's shared draws; rate 0: `x` itself), as the unstacked step multiplies them.
fn shared_inputs(
    x: &[f32],
    [batch, dim]: [usize; 2],
    rates: &[f64],
    uniforms: impl FnOnce(usize) -> Vec<f64>,
    device: &Device,
) -> Vec<(Tensor<2>, usize)> {
    let u = rates.iter().any(|&p| p > 0.0).then(|| uniforms(x.len()));
    let mut runs: Vec<(f64, usize)> = Vec::new();
    for &p in rates {
        match runs.last_mut() {
            Some((q, n)) if q.to_bits() == p.to_bits() => *n += 1,
            _ => runs.push((p, 1)),
        }
    }
    runs.into_iter()
        .map(|(p, heads)| {
            let masked: Vec<f32> = match (&u, p > 0.0) {
                (Some(u), true) => x
                    .iter()
                    .zip(u)
                    .map(|(&x, &u)| x * input_keep(u, p))
                    .collect(),
                _ => x.to_vec(),
            };
            let x = Tensor::from_data(TensorData::new(masked, [batch, dim]), device);
            (x, heads)
        })
        .collect()
}

/// One dropout layer's keep-scales `[K, batch, width]`: each row's at its rate from the shared
/// uniform draws `u` ([`keep_scale`], what `PairedDropout` multiplies by).
fn stacked_keep(u: &[f32], rates: &[f64], shape: [usize; 2], device: &Device) -> Tensor<3> {
    let scales = per_rate(rates, |p| u.iter().map(|&u| keep_scale(u, p)).collect());
    stack_rows(rates, &scales, shape, device)
}

/// `make(p)` once per distinct rate in `rates`.
fn per_rate(rates: &[f64], mut make: impl FnMut(f64) -> Vec<f32>) -> Vec<(u64, Vec<f32>)> {
    let mut made: Vec<(u64, Vec<f32>)> = Vec::new();
    for &p in rates {
        if !made.iter().any(|(bits, _)| *bits == p.to_bits()) {
            made.push((p.to_bits(), make(p)));
        }
    }
    made
}

/// The rows' blocks (each its rate's) as one `[K, a, b]` tensor.
fn stack_rows(
    rates: &[f64],
    blocks: &[(u64, Vec<f32>)],
    [a, b]: [usize; 2],
    device: &Device,
) -> Tensor<3> {
    let mut out = Vec::with_capacity(rates.len() * a * b);
    for p in rates {
        let (_, block) = blocks
            .iter()
            .find(|(bits, _)| *bits == p.to_bits())
            .expect("a block per rate");
        out.extend_from_slice(block);
    }
    Tensor::from_data(TensorData::new(out, [rates.len(), a, b]), device)
}

/// A stack's readings over an epoch, on the device until it ends.
#[derive(Default)]
struct StackReadings {
    steps: Vec<usize>,
    /// Per step, every row's loss `[K]`.
    losses: Vec<Tensor<1>>,
    /// Per step, every row's largest pre-BN bias gradient `[K]` (when some row has such a bias).
    maxima: Vec<Tensor<1>>,
}

/// An epoch's readings on the host, step-major.
struct StackValues {
    steps: Vec<usize>,
    rows: usize,
    losses: Vec<f32>,
    maxima: Option<Vec<f32>>,
}

impl StackValues {
    fn losses(&self, row: usize) -> Vec<f32> {
        (0..self.steps.len())
            .map(|s| self.losses[s * self.rows + row])
            .collect()
    }

    fn maxima(&self, row: usize) -> Option<Vec<f32>> {
        self.maxima.as_ref().map(|m| {
            (0..self.steps.len())
                .map(|s| m[s * self.rows + row])
                .collect()
        })
    }
}

impl StackReadings {
    fn push(&mut self, step: usize, losses: Tensor<1>, maxima: Option<Tensor<1>>) {
        self.steps.push(step);
        self.losses.push(losses);
        self.maxima.extend(maxima);
    }

    /// One read for the epoch; `None` when every batch was skipped.
    fn read(self, rows: usize) -> Option<StackValues> {
        let steps = self.losses.len();
        if steps == 0 {
            return None;
        }
        let with_bias = !self.maxima.is_empty();
        let values = read_floats(Tensor::cat(
            self.losses.into_iter().chain(self.maxima).collect(),
            0,
        ));
        let (losses, maxima) = values.split_at(steps * rows);
        Some(StackValues {
            steps: self.steps,
            rows,
            losses: losses.to_vec(),
            maxima: with_bias.then(|| maxima.to_vec()),
        })
    }
}
