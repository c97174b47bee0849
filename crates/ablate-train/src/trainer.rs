//! Training one cell: the paired design's batches and dropout draws, Adam/SGD steps, metrics.

use std::time::Instant;

use ablate_data::{FeatureSet, epoch_order};
use ablate_heads::{Head, HeadConfig, LinearHeadConfig, MlpHeadConfig};
use ablate_spec::seeding::stream;
use ablate_spec::{Cell, DropoutPosition, HeadVariant, TrainSpec};
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng;

use crate::error::TrainError;
use crate::evaluate::{Evaluation, evaluate};
use crate::metrics::{CellOutcome, EpochMetrics};
use crate::optimizer;

/// The head a grid variant stands for, sized for `data`.
pub fn head_config(variant: &HeadVariant, train: &TrainSpec, data: &FeatureSet) -> HeadConfig {
    match *variant {
        HeadVariant::Mlp {
            bias_before_bn,
            relu,
            dropout,
            last_bias,
            dropout_position,
            ..
        } => HeadConfig::Mlp(
            MlpHeadConfig::new(data.dim(), train.hidden, data.num_classes)
                .with_bias_before_bn(bias_before_bn)
                .with_relu(relu)
                .with_dropout(dropout)
                .with_last_bias(last_bias)
                .with_dropout_before_bn(dropout_position == DropoutPosition::BeforeBn),
        ),
        HeadVariant::Linear { last_bias, .. } => HeadConfig::Linear(
            LinearHeadConfig::new(data.dim(), data.num_classes).with_bias(last_bias),
        ),
    }
}

/// Trains one cell on `device` (a plain device: autodiff is added here) and evaluates it.
///
/// Deterministic: the same cell, settings, data and backend give the same numbers, whatever else runs
/// at the same time, because every random draw comes from a stream keyed by the cell's seed.
pub fn train_cell(
    cell: &Cell,
    train: &TrainSpec,
    data: &FeatureSet,
    device: &Device,
) -> Result<CellOutcome, TrainError> {
    let started = Instant::now();
    let dim = data.dim();
    let classes = data.num_classes;
    let subset = data.train_subset(cell.train_per_class, cell.seed)?;
    let (train_x, train_y) = data.train.gather(&subset);

    let train_device = device.clone().autodiff();
    let mut head = head_config(&cell.head, train, data).init(cell.seed, &train_device);
    let params = head.trainable_params();
    let dropout_width = head.dropout_width();
    let input_dropout = cell.head.input_dropout();
    // The grid's weight decay axis, when there is one, overrides `[train] weight_decay`.
    let settings = TrainSpec {
        weight_decay: cell.head.weight_decay().unwrap_or(train.weight_decay),
        ..train.clone()
    };
    let mut optim = optimizer::build(&settings);

    let mut epochs = Vec::with_capacity(train.epochs);
    let mut steps = 0;
    let mut dropped_single_sample_batch = false;
    for epoch in 0..train.epochs {
        let order = epoch_order(subset.len(), cell.train_per_class, cell.seed, epoch);
        let mut loss_sum = 0.0f64;
        let mut epoch_steps = 0usize;
        let mut bias_grad_max: Option<f64> = None;
        for (step, batch) in order.chunks(train.batch_size).enumerate() {
            if batch.len() < 2 {
                dropped_single_sample_batch = true;
                continue;
            }
            let b = batch.len();
            let mut xs = Vec::with_capacity(b * dim);
            let mut onehot = vec![0.0f32; b * classes];
            for (row, &i) in batch.iter().enumerate() {
                xs.extend_from_slice(&train_x[i * dim..(i + 1) * dim]);
                onehot[row * classes + train_y[i] as usize] = 1.0;
            }
            if input_dropout > 0.0 {
                // The backbone's own dropout on the pooled features. One draw per (seed, size,
                // epoch, step), shared by every variant and rate: a feature dropped at p = 0.2 is
                // dropped at p = 0.4 too, and bias on/off twins see the same masks.
                let mut rng = stream(
                    cell.seed,
                    &format!(
                        "input-dropout/n{}/epoch{epoch}/step{step}",
                        cell.train_per_class
                    ),
                );
                let scale = (1.0 / (1.0 - input_dropout)) as f32;
                for v in &mut xs {
                    let keep = rng.random::<f64>() >= input_dropout;
                    *v = if keep { *v * scale } else { 0.0 };
                }
            }
            let x = Tensor::<2>::from_data(TensorData::new(xs, [b, dim]), &train_device);
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
        let val = evaluate(&head.valid(), &data.val.x, &data.val.y, dim, device);
        epochs.push(EpochMetrics {
            epoch: epoch + 1,
            train_loss: loss_sum / epoch_steps.max(1) as f64,
            val_loss: val.loss,
            val_acc: val.acc,
            bias_grad_max,
        });
    }

    let eval_head: Head = head.valid();
    let fit = evaluate(&eval_head, &train_x, &train_y, dim, device);
    // The last epoch ended with this very evaluation (same head, same rows): reuse it.
    let val = match epochs.last() {
        Some(last) => Evaluation {
            loss: last.val_loss,
            acc: last.val_acc,
        },
        None => evaluate(&eval_head, &data.val.x, &data.val.y, dim, device),
    };
    let val_x = Tensor::<2>::from_data(
        TensorData::new(data.val.x.clone(), [data.val.x.len() / dim, dim]),
        device,
    );
    let bn_var_ratio = eval_head.bn_var_ratio(val_x);
    // Evaluated once, at the end: nothing during training looks at it.
    let test = data
        .test
        .as_ref()
        .map(|t| evaluate(&eval_head, &t.x, &t.y, dim, device));
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
