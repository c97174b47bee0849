//! Training one fine-tuning cell: the backbone and the head together on images, the paired design's
//! batches and draws, val after every epoch; the final measurements are the frozen regime's, taken
//! on the features of the fine-tuned backbone in eval mode.

use std::ops::Range;
use std::path::PathBuf;
use std::time::Instant;

use ablate_backbone::{Arch, EfficientNet};
use ablate_data::epoch_order;
use ablate_results::{CellOutcome, EpochMetrics};
use ablate_spec::{Cell, TrainSpec};
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};

use crate::checkpoint::{Checkpoint, Progress};
use crate::error::TrainError;
use crate::evaluate::evaluate;
use crate::finetune::{DrawSpec, FineTuneNet, PartLr, StepDraws, optimizer_step};
use crate::images::ImageBatches;
use crate::optimizer;
use crate::source::{BatchSource, Split};
use crate::trainer::{
    Trained, checked_loss, finish, head_config, one_hot, step_key, track_bias_grad,
};

/// How the backbone trains (the head follows the cell's `[train]` settings).
#[derive(Debug, Clone, PartialEq)]
pub struct FinetuneSettings {
    /// The backbone's learning rate (the head's is the cell's `lr`).
    pub backbone_lr: f64,
    /// lukemelas' `drop_connect_rate` (0.2 in their b0-b7 and lite models); scaled per block.
    pub drop_connect: f64,
    /// The stem and this many of the 7 stages stay as loaded (no gradient, running statistics).
    pub freeze_stages: usize,
    /// Images per forward pass when evaluating.
    pub eval_batch: usize,
    /// Evaluate with BatchNorm statistics recomputed on the training images (see
    /// [`EfficientNet::recompute_batch_norm_stats`]) instead of the running averages.
    pub recompute_bn: bool,
}

impl Default for FinetuneSettings {
    fn default() -> Self {
        FinetuneSettings {
            backbone_lr: 1e-4,
            drop_connect: 0.2,
            freeze_stages: 0,
            eval_batch: 64,
            recompute_bn: true,
        }
    }
}

/// The pretrained backbone a fine-tuning cell starts from: loaded afresh for every cell, because a
/// clone of a burn module shares its BatchNorm running statistics with the original (training one
/// cell would move the next cell's starting point).
#[derive(Debug, Clone, PartialEq)]
pub struct PretrainedBackbone {
    pub arch: Arch,
    pub weights: PathBuf,
}

impl PretrainedBackbone {
    /// The backbone without its ImageNet classifier, on `device`.
    pub fn load(&self, device: &Device) -> Result<EfficientNet, TrainError> {
        let (mut model, _) = ablate_backbone::load(&self.arch, &self.weights, device)?;
        model.fc = None;
        Ok(model)
    }
}

/// Called with (the epochs done so far, epochs in all).
pub type OnEpoch<'a> = dyn Fn(&[EpochMetrics], usize) + Sync + 'a;

/// Who watches a fine-tuning cell while it trains (it takes minutes to hours, so it keeps a
/// checkpoint and says how far it got).
#[derive(Clone, Copy, Default)]
pub struct Watch<'a> {
    /// Where the state after every epoch is saved, and resumed from.
    pub checkpoint: Option<&'a Checkpoint>,
    /// Called with (the epochs done so far, epochs in all) once the cell starts (after resuming)
    /// and after every epoch, e.g. to show progress, val accuracy and an ETA.
    pub on_epoch: Option<&'a OnEpoch<'a>>,
}

impl<'a> Watch<'a> {
    /// Only a checkpoint.
    pub fn checkpoint(checkpoint: &'a Checkpoint) -> Self {
        Watch {
            checkpoint: Some(checkpoint),
            on_epoch: None,
        }
    }

    fn epoch(&self, done: &[EpochMetrics], all: usize) {
        if let Some(on_epoch) = self.on_epoch {
            on_epoch(done, all);
        }
    }
}

/// Fine-tunes the pretrained `backbone` with the cell's head on `images`, and measures the cell as
/// the frozen regime does. With a checkpoint in `watch`, the state after every epoch is saved there
/// and a cell interrupted earlier resumes after its last saved epoch, with the numbers an
/// uninterrupted run gives (every draw is keyed by epoch and step); removing it is the caller's
/// job, once the cell's record is safe.
pub fn train_finetune_cell(
    cell: &Cell,
    train: &TrainSpec,
    finetune: &FinetuneSettings,
    backbone: &PretrainedBackbone,
    images: &ImageBatches,
    device: &Device,
    watch: Watch<'_>,
) -> Result<CellOutcome, TrainError> {
    let started = Instant::now();
    let train_device = device.clone().autodiff();
    let settings = train.for_variant(&cell.head);
    let backbone = backbone
        .load(&train_device)?
        .freeze_stages(finetune.freeze_stages);
    let features = backbone.conv_head.weight.dims()[0];
    let head =
        head_config(&cell.head, train, features, images.classes()).init(cell.seed, &train_device);
    let mut net = FineTuneNet { backbone, head };
    let mut optim = optimizer::build(&settings);
    let lr = PartLr {
        backbone: finetune.backbone_lr,
        head: settings.lr,
    };
    let rates = net.backbone.drop_connect_rates(finetune.drop_connect);
    let dropout_width = net.head.dropout_width();
    let input_dropout = cell.head.input_dropout();
    let train_rows = images.len(Split::Train);

    let mut epochs = Vec::with_capacity(settings.epochs);
    let mut steps = 0;
    let mut dropped_single_sample_batch = false;
    if let Some(checkpoint) = watch.checkpoint {
        let (resumed, progress) = checkpoint.resume(&mut net, optim)?;
        optim = resumed;
        if let Some(progress) = progress {
            epochs = progress.epochs;
            steps = progress.steps;
            dropped_single_sample_batch = progress.dropped_single_sample_batch;
        }
    }
    watch.epoch(&epochs, settings.epochs);
    for epoch in epochs.len()..settings.epochs {
        let order = epoch_order(train_rows, cell.train_per_class, cell.seed, epoch);
        let mut loss_sum = 0.0f64;
        let mut epoch_steps = 0usize;
        let mut bias_grad_max: Option<f64> = None;
        for (step, batch) in order.chunks(settings.batch_size).enumerate() {
            if batch.len() < 2 {
                dropped_single_sample_batch = true;
                continue;
            }
            let key = step_key(cell, epoch, step);
            let draws = StepDraws::draw(
                &DrawSpec {
                    seed: cell.seed,
                    step_key: &key,
                    batch: batch.len(),
                    drop_connect_rates: &rates,
                    input_dropout,
                    features,
                    head_dropout_width: dropout_width,
                },
                &train_device,
            );
            let x = images.rows(Split::Train, batch, &train_device);
            let targets = one_hot(
                images.labels(Split::Train),
                batch,
                images.classes(),
                &train_device,
            );
            let logits = net.forward_train(x, &draws);
            let (loss, loss_value) = checked_loss(logits, targets, cell, epoch, step)?;
            let grads = loss.backward();
            track_bias_grad(&net.head, &grads, &mut bias_grad_max);
            net = optimizer_step(&mut optim, net, grads, lr);
            loss_sum += f64::from(loss_value);
            epoch_steps += 1;
        }
        steps += epoch_steps;
        if finetune.recompute_bn {
            net.backbone = recompute_bn(net.backbone, images, settings.batch_size, &train_device);
        }
        // Val in eval mode: the backbone's features, then the head, as `finish` measures the cell.
        let eval = net.valid();
        let val = BackboneFeatures::of(&eval.backbone, images, &[Split::Val], finetune, device);
        let val = evaluate(&eval.head, &val, Split::Val, device);
        epochs.push(EpochMetrics {
            epoch: epoch + 1,
            train_loss: loss_sum / epoch_steps.max(1) as f64,
            val_loss: val.loss,
            val_acc: val.acc,
            bias_grad_max,
        });
        if let Some(checkpoint) = watch.checkpoint {
            checkpoint.save(
                &net,
                &optim,
                &Progress {
                    cell_id: cell.id(),
                    epochs_done: epoch + 1,
                    epochs: epochs.clone(),
                    steps,
                    dropped_single_sample_batch,
                },
            )?;
        }
        watch.epoch(&epochs, settings.epochs);
    }
    let eval = net.valid();
    let features = BackboneFeatures::of(
        &eval.backbone,
        images,
        &[Split::Train, Split::Val, Split::Test],
        finetune,
        device,
    );
    let trained = Trained {
        head: net.head,
        epochs,
        steps,
        dropped_single_sample_batch,
        fit: None,
    };
    Ok(finish(trained, &features, device, started))
}

/// The backbone with BatchNorm statistics over the cell's training images, in batches of the
/// training batch size, in a fixed order (so a resumed cell recomputes the same numbers).
fn recompute_bn(
    backbone: EfficientNet,
    images: &ImageBatches,
    batch_size: usize,
    device: &Device,
) -> EfficientNet {
    let rows: Vec<usize> = (0..images.len(Split::Train)).collect();
    backbone.recompute_batch_norm_stats(
        rows.chunks(batch_size)
            // A batch of one has no variance (as in training, it is left out).
            .filter(|chunk| chunk.len() > 1)
            .map(|chunk| images.rows(Split::Train, chunk, device)),
    )
}

/// The eval-mode features of a (fine-tuned) backbone over a cell's splits: the frozen regime's
/// [`BatchSource`], so a fine-tuned cell is measured by the same code as a frozen one.
struct BackboneFeatures<'a> {
    images: &'a ImageBatches<'a>,
    dim: usize,
    /// Per split (train, val, test), `[rows, dim]` flat; empty when not computed.
    x: [Vec<f32>; 3],
}

fn slot(split: Split) -> usize {
    match split {
        Split::Train => 0,
        Split::Val => 1,
        Split::Test => 2,
    }
}

impl<'a> BackboneFeatures<'a> {
    fn of(
        backbone: &EfficientNet,
        images: &'a ImageBatches<'a>,
        splits: &[Split],
        finetune: &FinetuneSettings,
        device: &Device,
    ) -> Self {
        let dim = backbone.conv_head.weight.dims()[0];
        let mut x: [Vec<f32>; 3] = Default::default();
        for &split in splits {
            let len = images.len(split);
            let mut out = Vec::with_capacity(len * dim);
            for start in (0..len).step_by(finetune.eval_batch.max(1)) {
                let end = (start + finetune.eval_batch.max(1)).min(len);
                let batch = images.span(split, start..end, device);
                out.extend(
                    backbone
                        .forward_features_per_image(batch)
                        .into_data()
                        .iter::<f32>(),
                );
            }
            x[slot(split)] = out;
        }
        BackboneFeatures { images, dim, x }
    }
}

impl BatchSource for BackboneFeatures<'_> {
    fn input_dim(&self) -> usize {
        self.dim
    }

    fn classes(&self) -> usize {
        self.images.classes()
    }

    fn len(&self, split: Split) -> usize {
        if self.x[slot(split)].is_empty() {
            0
        } else {
            self.images.len(split)
        }
    }

    fn labels(&self, split: Split) -> &[u32] {
        self.images.labels(split)
    }

    fn rows(&self, split: Split, rows: &[usize], device: &Device) -> Tensor<2> {
        let x = &self.x[slot(split)];
        let mut block = Vec::with_capacity(rows.len() * self.dim);
        for &i in rows {
            block.extend_from_slice(&x[i * self.dim..(i + 1) * self.dim]);
        }
        Tensor::from_data(TensorData::new(block, [rows.len(), self.dim]), device)
    }

    fn span(&self, split: Split, span: Range<usize>, device: &Device) -> Tensor<2> {
        let block = self.x[slot(split)][span.start * self.dim..span.end * self.dim].to_vec();
        Tensor::from_data(TensorData::new(block, [span.len(), self.dim]), device)
    }
}
