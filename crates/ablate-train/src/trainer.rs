//! Training one cell: the paired design's batches and dropout draws, Adam/SGD steps, metrics.

use std::time::Instant;

use ablate_data::epoch_order;
use ablate_heads::{Head, HeadConfig, LinearHeadConfig, MlpHeadConfig};
use ablate_results::{CellOutcome, EpochMetrics};
use ablate_spec::seeding::stream;
use ablate_spec::{Cell, DropoutPosition, HeadKind, HeadVariant, Switch, TrainSpec};
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng;

use crate::error::TrainError;
use crate::evaluate::{Evaluation, evaluate};
use crate::optimizer;
use crate::source::{BatchSource, Split};

/// The head a grid variant stands for, for `input_dim` features and `classes` classes.
pub fn head_config(
    variant: &HeadVariant,
    train: &TrainSpec,
    input_dim: usize,
    classes: usize,
) -> HeadConfig {
    match variant.kind() {
        HeadKind::Mlp => HeadConfig::Mlp(
            MlpHeadConfig::new(input_dim, train.hidden, classes)
                .with_bias_before_bn(variant.is_on(Switch::BiasBeforeBn))
                .with_relu(variant.is_on(Switch::Relu))
                .with_dropout(variant.dropout())
                .with_last_bias(variant.is_on(Switch::LastBias))
                .with_dropout_before_bn(variant.dropout_position() == DropoutPosition::BeforeBn),
        ),
        HeadKind::Linear => HeadConfig::Linear(
            LinearHeadConfig::new(input_dim, classes).with_bias(variant.is_on(Switch::LastBias)),
        ),
    }
}

/// The keep-mask of input dropout for one step: `1 / (1 - p)` where a feature is kept, 0 where it is
/// dropped. One draw per (seed, size, epoch, step), shared by every variant and rate: a feature
/// dropped at p = 0.2 is dropped at p = 0.4 too, and bias on/off twins see the same masks.
fn input_dropout_mask(cell: &Cell, epoch: usize, step: usize, len: usize, p: f64) -> Vec<f32> {
    let mut rng = stream(
        cell.seed,
        &format!(
            "input-dropout/n{}/epoch{epoch}/step{step}",
            cell.train_per_class
        ),
    );
    let scale = (1.0 / (1.0 - p)) as f32;
    (0..len)
        .map(|_| if rng.random::<f64>() >= p { scale } else { 0.0 })
        .collect()
}

/// Trains one cell on `device` (a plain device: autodiff is added here) on the batches of `source`
/// (the cell's training subset, its val and test splits), and evaluates it.
///
/// Deterministic: the same cell, settings, data and backend give the same numbers, whatever else runs
/// at the same time, because every random draw comes from a stream keyed by the cell's seed.
pub fn train_cell(
    cell: &Cell,
    train: &TrainSpec,
    source: &impl BatchSource,
    device: &Device,
) -> Result<CellOutcome, TrainError> {
    let started = Instant::now();
    let dim = source.input_dim();
    let classes = source.classes();
    let train_rows = source.len(Split::Train);
    let train_y = source.labels(Split::Train);

    let train_device = device.clone().autodiff();
    let mut head = head_config(&cell.head, train, dim, classes).init(cell.seed, &train_device);
    let params = head.trainable_params();
    let dropout_width = head.dropout_width();
    let input_dropout = cell.head.input_dropout();
    // Switches the grid sets (weight decay) override their `[train]` settings.
    let settings = train.for_variant(&cell.head);
    let mut optim = optimizer::build(&settings);

    let mut epochs = Vec::with_capacity(train.epochs);
    let mut steps = 0;
    let mut dropped_single_sample_batch = false;
    for epoch in 0..train.epochs {
        let order = epoch_order(train_rows, cell.train_per_class, cell.seed, epoch);
        let mut loss_sum = 0.0f64;
        let mut epoch_steps = 0usize;
        let mut bias_grad_max: Option<f64> = None;
        for (step, batch) in order.chunks(train.batch_size).enumerate() {
            if batch.len() < 2 {
                dropped_single_sample_batch = true;
                continue;
            }
            let b = batch.len();
            let mut x = source.rows(Split::Train, batch, &train_device);
            if input_dropout > 0.0 {
                // The backbone's own dropout on the pooled features.
                let mask = input_dropout_mask(cell, epoch, step, b * dim, input_dropout);
                x = x * Tensor::<2>::from_data(TensorData::new(mask, [b, dim]), &train_device);
            }
            let mut onehot = vec![0.0f32; b * classes];
            for (row, &i) in batch.iter().enumerate() {
                onehot[row * classes + train_y[i] as usize] = 1.0;
            }
            let targets =
                Tensor::<2>::from_data(TensorData::new(onehot, [b, classes]), &train_device);
            // One draw per (seed, size, epoch, step): every variant with dropout gets the same one.
            let draws = (dropout_width > 0).then(|| {
                let mut rng = stream(
                    cell.seed,
                    &format!("dropout/n{}/epoch{epoch}/step{step}", cell.train_per_class),
                );
                let u: Vec<f32> = (0..b * dropout_width)
                    .map(|_| rng.random::<f32>())
                    .collect();
                Tensor::<2>::from_data(TensorData::new(u, [b, dropout_width]), &train_device)
            });

            let logits = head.forward(x, draws);
            let loss = (log_softmax(logits, 1) * targets).sum_dim(1).mean().neg();
            let loss_value = loss.clone().into_scalar::<f32>();
            if !loss_value.is_finite() {
                return Err(TrainError::Diverged {
                    cell: cell.id(),
                    epoch: epoch + 1,
                    step,
                    loss: loss_value,
                });
            }
            let grads = loss.backward();
            if let Some(bias) = head.bias_before_bn() {
                let g = bias
                    .val()
                    .grad(&grads)
                    .map_or(0.0, |g| g.abs().max().into_scalar::<f64>());
                bias_grad_max = Some(bias_grad_max.map_or(g, |m| m.max(g)));
            }
            let grads = GradientsParams::from_grads(grads, &head);
            head = optim.step(train.lr, head, grads);
            loss_sum += f64::from(loss_value);
            epoch_steps += 1;
        }
        steps += epoch_steps;
        let val = evaluate(&head.valid(), source, Split::Val, device);
        epochs.push(EpochMetrics {
            epoch: epoch + 1,
            train_loss: loss_sum / epoch_steps.max(1) as f64,
            val_loss: val.loss,
            val_acc: val.acc,
            bias_grad_max,
        });
    }

    let eval_head: Head = head.valid();
    let fit = evaluate(&eval_head, source, Split::Train, device);
    // The last epoch ended with this very evaluation (same head, same rows): reuse it.
    let val = match epochs.last() {
        Some(last) => Evaluation {
            loss: last.val_loss,
            acc: last.val_acc,
        },
        None => evaluate(&eval_head, source, Split::Val, device),
    };
    // On the rows BN's running statistics were learned from, in eval mode: what is left is the
    // shift dropout upstream of BN causes (not a train/val difference in the data).
    // Every step updated BN's running statistics once.
    let bn_var_ratio =
        eval_head.bn_var_ratio(source.span(Split::Train, 0..train_rows, device), steps);
    // Evaluated once, at the end: nothing during training looks at it.
    let test = source
        .has(Split::Test)
        .then(|| evaluate(&eval_head, source, Split::Test, device));
    Ok(CellOutcome {
        epochs,
        train_acc: fit.acc,
        train_loss: fit.loss,
        val_acc: val.acc,
        val_loss: val.loss,
        test_acc: test.map(|t| t.acc),
        test_loss: test.map(|t| t.loss),
        params,
        seconds: started.elapsed().as_secs_f64(),
        steps,
        dropped_single_sample_batch,
        bn_var_ratio,
    })
}
