//! Training one fine-tuning cell: the backbone and the head together on images, the paired design's
//! batches and draws, val after every epoch; the final measurements are the frozen regime's, taken
//! on the features of the fine-tuned backbone in eval mode.

use std::time::Instant;

use ablate_backbone::{EfficientNet, Pretrained};
use ablate_heads::SequentialHead;
use ablate_record::{CellOutcome, CheckpointStore, EpochLog, EpochMetrics};
use ablate_spec::{BackboneBn, Cell, EvalBnStats, FinetuneSpec, TrainSpec};
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::tensor::{Device, Gradients, Tensor};

use crate::checkpoint;
use crate::draws::StepDraws;
use crate::epochs::{Schedule, TrainStep, run_epochs};
use crate::error::TrainError;
use crate::evaluate::{Evaluation, evaluate};
use crate::finetune::{FineTuneNet, PartLr, optimizer_step};
use crate::images::ImageBatches;
use crate::optimizer;
use crate::pooled::PooledFeatures;
use crate::source::Split;
use crate::trainer::{Trained, finish, head_config};

/// The pretrained backbone fine-tuning cells start from: read once by its owner, and an instance of
/// its own for every cell (see [`Pretrained`]).
#[derive(Debug, Clone)]
pub struct PretrainedBackbone {
    pub weights: Pretrained,
    /// Images per forward pass when evaluating (`[backbone] batch_size`).
    pub eval_batch: usize,
}

impl PretrainedBackbone {
    /// A fresh backbone without its ImageNet classifier, on `device`.
    pub fn load(&self, device: &Device) -> Result<EfficientNet, TrainError> {
        Ok(self.weights.instance(device)?)
    }
}

/// Called with (the epochs done so far, epochs in all).
pub type OnEpoch<'a> = dyn Fn(&[EpochMetrics], usize) + Sync + 'a;

/// Who watches a fine-tuning cell while it trains (it takes minutes to hours, so it keeps a
/// checkpoint and says how far it got).
#[derive(Clone, Copy, Default)]
pub struct Watch<'a> {
    /// Where the state after every epoch is saved, and resumed from.
    pub checkpoint: Option<&'a dyn CheckpointStore>,
    /// Called with (the epochs done so far, epochs in all) once the cell starts (after resuming)
    /// and after every epoch, e.g. to show progress, val accuracy and an ETA.
    pub on_epoch: Option<&'a OnEpoch<'a>>,
}

impl<'a> Watch<'a> {
    /// Only a checkpoint.
    pub fn checkpoint(checkpoint: &'a dyn CheckpointStore) -> Self {
        Watch {
            checkpoint: Some(checkpoint),
            on_epoch: None,
        }
    }

    pub(crate) fn epoch(&self, done: &[EpochMetrics], all: usize) {
        if let Some(on_epoch) = self.on_epoch {
            on_epoch(done, all);
        }
    }
}

/// The fine-tuning regime's step: backbone and head in one network, one optimizer state, each part
/// with its own learning rate.
struct FinetuneStep<'a> {
    net: FineTuneNet,
    optim: ModuleOptimizer,
    lr: PartLr,
    images: &'a ImageBatches<'a>,
    finetune: &'a FinetuneSpec,
    eval_batch: usize,
    batch_size: usize,
    /// BatchNorm statistics are recomputed where the network lives.
    train_device: Device,
}

impl TrainStep for FinetuneStep<'_> {
    fn forward(&self, batch: &[usize], draws: &StepDraws, device: &Device) -> Tensor<2> {
        let x = self.images.rows(Split::Train, batch, device);
        self.net.forward_train(x, draws)
    }

    fn head(&self) -> &SequentialHead {
        &self.net.head
    }

    fn step(mut self, grads: Gradients) -> Self {
        self.net = optimizer_step(&mut self.optim, self.net, grads, self.lr);
        self
    }

    fn validate(mut self, device: &Device) -> (Self, Evaluation) {
        if self.finetune.eval_bn_stats == EvalBnStats::Recomputed {
            self.net.backbone = recompute_bn(
                self.net.backbone,
                self.images,
                self.batch_size,
                &self.train_device,
            );
        }
        // Val in eval mode: the backbone's features, then the head, as `finish` measures the cell.
        let eval = self.net.valid();
        let features = backbone_features(
            &eval.backbone,
            self.images,
            &[Split::Val],
            self.eval_batch,
            device,
        );
        let val = evaluate(&eval.head, &features, Split::Val, device);
        (self, val)
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
    finetune: &FinetuneSpec,
    backbone: &PretrainedBackbone,
    images: &ImageBatches,
    device: &Device,
    watch: Watch<'_>,
) -> Result<CellOutcome, TrainError> {
    let started = Instant::now();
    let train_device = device.clone().autodiff();
    let settings = train.for_variant(&cell.head);
    let finetune = &finetune.for_variant(&cell.head);
    let eval_batch = backbone.eval_batch.max(1);
    let mut backbone = backbone
        .load(&train_device)?
        .freeze_stages(finetune.freeze_stages);
    if FinetuneSpec::batch_norm(&cell.head) == BackboneBn::Running {
        backbone = backbone.with_running_batch_norm();
    }
    let features = backbone.conv_head.weight.dims()[0];
    let head = head_config(&cell.head, train, features, images.classes())
        .init(cell.draw_seed(), &train_device);
    let mut net = FineTuneNet { backbone, head };
    let mut optim = optimizer::build(&settings);
    let mut log = EpochLog::default();
    if let Some(checkpoint) = watch.checkpoint {
        let (resumed, saved) = checkpoint::resume(checkpoint, &mut net, optim)?;
        optim = resumed;
        if let Some(saved) = saved {
            log = saved;
        }
    }
    watch.epoch(&log.epochs, settings.epochs);
    let rates = net.backbone.drop_connect_rates(finetune.drop_connect);
    let schedule = Schedule {
        cell,
        epochs: settings.epochs,
        batch_size: settings.batch_size,
        labels: images.labels(Split::Train),
        classes: images.classes(),
        drop_connect_rates: &rates,
        input_dropout: cell.head.input_dropout(),
        features,
        head_dropouts: net.head.dropout_draws(),
    };
    let step = FinetuneStep {
        net,
        optim,
        lr: PartLr {
            backbone: finetune.backbone_lr,
            head: settings.lr,
        },
        images,
        finetune,
        eval_batch,
        batch_size: settings.batch_size,
        train_device: train_device.clone(),
    };
    let (step, log) = run_epochs(step, &schedule, log, &train_device, |step, log| {
        if let Some(checkpoint) = watch.checkpoint {
            checkpoint::save(checkpoint, &step.net, &step.optim, log)?;
        }
        watch.epoch(&log.epochs, settings.epochs);
        Ok(())
    })?;
    let eval = step.net.valid();
    let features = backbone_features(
        &eval.backbone,
        images,
        &[Split::Train, Split::Val, Split::Test],
        eval_batch,
        device,
    );
    let trained = Trained {
        head: step.net.head,
        log,
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

/// The eval-mode features of a (fine-tuned) backbone over a cell's splits of `images`.
fn backbone_features<'a>(
    backbone: &EfficientNet,
    images: &'a ImageBatches<'a>,
    splits: &[Split],
    eval_batch: usize,
    device: &Device,
) -> PooledFeatures<'a> {
    PooledFeatures::of(
        backbone.conv_head.weight.dims()[0],
        images.classes(),
        |split| images.labels(split),
        splits,
        eval_batch,
        |split, span| backbone.forward_features_per_image(images.span(split, span, device)),
    )
}
