//! Fine-tuning the top of the backbone from a cut cache: the stages below the cut are frozen and
//! run as at inference, so their output for every image is computed once (a cut cache, like the
//! features file) and each step runs only the stages that train, the head conv and the head.
//! Draw for draw and float for float the training of the whole network with those stages frozen
//! ([`crate::train_finetune_cell`] with `freeze_stages` at the cut; tested bit for bit).

use std::time::Instant;

use ablate_backbone::{BackboneTop, EfficientNet};
use ablate_data::{FeatureSet, meta};
use ablate_heads::SequentialHead;
use ablate_record::{CellOutcome, EpochLog};
use ablate_spec::{BackboneBn, Cell, EvalBnStats, FinetuneSpec, TrainSpec};
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Gradients, Tensor};

use crate::checkpoint;
use crate::draws::StepDraws;
use crate::epochs::{Schedule, TrainStep, run_epochs};
use crate::error::TrainError;
use crate::evaluate::{Evaluation, evaluate};
use crate::finetune::PartLr;
use crate::finetune_cell::{PretrainedBackbone, Watch};
use crate::optimizer;
use crate::pooled::PooledFeatures;
use crate::source::{BatchSource, FeatureSource, Split};
use crate::trainer::{Trained, finish, head_config};

/// A cut cache: per image, the activations entering `stage`, `[channels, h, w]` flat in a
/// features file's layout (`ablate_features::Plan::cut_at` writes it).
pub struct CutSet {
    pub set: FeatureSet,
    pub stage: usize,
    pub shape: [usize; 3],
    pub image_size: usize,
}

impl CutSet {
    /// Reads the cut's stage and shape from the file's metadata; a file without them (a features
    /// file) or whose rows do not have that shape is refused, naming it.
    pub fn new(set: FeatureSet) -> Result<Self, TrainError> {
        let bad = |message: String| TrainError::Cut {
            path: set.path.clone(),
            message,
        };
        let get = |key: &str| {
            set.metadata
                .get(key)
                .ok_or_else(|| bad(format!("has no `{key}` metadata: it is not a cut cache")))
        };
        let stage: usize = get(meta::CUT_STAGE)?
            .parse()
            .map_err(|e| bad(format!("`{}`: {e}", meta::CUT_STAGE)))?;
        let shape: [usize; 3] = serde_json::from_str(get(meta::CUT_SHAPE)?)
            .map_err(|e| bad(format!("`{}`: {e}", meta::CUT_SHAPE)))?;
        let image_size: usize = get(meta::IMAGE_SIZE)?
            .parse()
            .map_err(|e| bad(format!("`{}`: {e}", meta::IMAGE_SIZE)))?;
        if shape.iter().product::<usize>() != set.dim() {
            return Err(bad(format!(
                "rows of {} values, but `{}` says {shape:?}",
                set.dim(),
                meta::CUT_SHAPE
            )));
        }
        Ok(CutSet {
            set,
            stage,
            shape,
            image_size,
        })
    }
}

/// The top of the backbone and the head: one backward pass reaches both.
#[derive(Module, Debug)]
pub struct TopNet {
    pub top: BackboneTop,
    pub head: SequentialHead,
}

/// A cell's rows of the cut cache as the top's input `[rows, c, h, w]`.
struct CutRows<'a> {
    source: FeatureSource<'a>,
    shape: [usize; 3],
}

impl CutRows<'_> {
    fn rows(&self, split: Split, rows: &[usize], device: &Device) -> Tensor<4> {
        let [c, h, w] = self.shape;
        self.source
            .rows(split, rows, device)
            .reshape([rows.len(), c, h, w])
    }

    fn span(&self, split: Split, span: std::ops::Range<usize>, device: &Device) -> Tensor<4> {
        let [c, h, w] = self.shape;
        let n = span.len();
        self.source.span(split, span, device).reshape([n, c, h, w])
    }
}

/// The top's eval-mode features over a cell's splits, image by image over rayon's threads on
/// flex (as the whole network's features are: bit-identical to whole batches).
fn top_features<'a>(
    top: &BackboneTop,
    cut: &'a CutRows<'a>,
    splits: &[Split],
    eval_batch: usize,
    device: &Device,
) -> PooledFeatures<'a> {
    PooledFeatures::of(
        top.conv_head.weight.dims()[0],
        cut.source.classes(),
        |split| cut.source.labels(split),
        splits,
        eval_batch,
        |split, span| top.forward_features_per_image(cut.span(split, span, device)),
    )
}

struct CutStep<'a> {
    net: TopNet,
    optim: ModuleOptimizer,
    lr: PartLr,
    cut: &'a CutRows<'a>,
    finetune: &'a FinetuneSpec,
    eval_batch: usize,
    batch_size: usize,
    train_device: Device,
}

impl TrainStep for CutStep<'_> {
    fn forward(&self, batch: &[usize], draws: &StepDraws, device: &Device) -> Tensor<2> {
        let x = self.cut.rows(Split::Train, batch, device);
        let features = self.net.top.forward_features_train(x, &draws.drop_connect);
        let features = match &draws.input_mask {
            Some(mask) => features * mask.clone(),
            None => features,
        };
        self.net.head.forward(features, Some(&draws.head_dropout))
    }

    fn head(&self) -> &SequentialHead {
        &self.net.head
    }

    fn step(mut self, mut grads: Gradients) -> Self {
        // As the whole network's step: the backbone's part at its rate, then the head's.
        let top = GradientsParams::from_module(&mut grads, &self.net.top);
        let head = GradientsParams::from_module(&mut grads, &self.net.head);
        let net = self.optim.step(self.lr.backbone, self.net, top);
        self.net = self.optim.step(self.lr.head, net, head);
        self
    }

    fn validate(mut self, device: &Device) -> (Self, Evaluation) {
        if self.finetune.eval_bn_stats == EvalBnStats::Recomputed {
            // The whole network's precise BN: the training rows in order, in training batches.
            let rows: Vec<usize> = (0..self.cut.source.len(Split::Train)).collect();
            let cut = self.cut;
            let train_device = self.train_device.clone();
            self.net.top = self.net.top.recompute_batch_norm_stats(
                rows.chunks(self.batch_size)
                    .filter(|chunk| chunk.len() > 1)
                    .map(|chunk| cut.rows(Split::Train, chunk, &train_device)),
            );
        }
        let eval = self.net.valid();
        let features = top_features(&eval.top, self.cut, &[Split::Val], self.eval_batch, device);
        let val = evaluate(&eval.head, &features, Split::Val, device);
        (self, val)
    }
}

/// Fine-tunes the stages above the cut of the pretrained `backbone` (those `finetune.freeze_stages`
/// leaves training), with the cell's head, from the cut cache `cut`, and measures the cell as the
/// frozen regime does. Checkpoints and resumes as [`crate::train_finetune_cell`].
pub fn train_cut_cell(
    cell: &Cell,
    train: &TrainSpec,
    finetune: &FinetuneSpec,
    backbone: &PretrainedBackbone,
    cut: &CutSet,
    device: &Device,
    watch: Watch<'_>,
) -> Result<CellOutcome, TrainError> {
    let mut outcome = None;
    let inputs = CutInputs {
        train,
        finetune,
        backbone,
        cut,
    };
    train_cut_cells(
        std::slice::from_ref(cell),
        &inputs,
        device,
        watch,
        |_, o| outcome = Some(o),
    )?;
    Ok(outcome.expect("a run that ends without error finishes its one cell"))
}

/// What the cells of a cut cache train with.
#[derive(Clone, Copy)]
pub struct CutInputs<'a> {
    pub train: &'a TrainSpec,
    pub finetune: &'a FinetuneSpec,
    pub backbone: &'a PretrainedBackbone,
    pub cut: &'a CutSet,
}

/// [`train_cut_cell`] for cells that differ in their epoch count alone (a group of
/// [`ablate_spec::epoch_prefix_groups`], in increasing epoch order): one run to the longest
/// count, each cell measured at its own as it passes (draw for draw what training each alone
/// gives), `finished` called with each. `watch`'s checkpoint is the longest cell's.
pub fn train_cut_cells(
    cells: &[Cell],
    inputs: &CutInputs,
    device: &Device,
    watch: Watch<'_>,
    mut finished: impl FnMut(&Cell, CellOutcome),
) -> Result<(), TrainError> {
    let Some(cell) = cells.last() else {
        return Ok(());
    };
    let CutInputs {
        train,
        finetune,
        backbone,
        cut,
    } = *inputs;
    let started = Instant::now();
    let train_device = device.clone().autodiff();
    let settings = train.for_variant(&cell.head);
    let finetune = &finetune.for_variant(&cell.head);
    let eval_batch = backbone.eval_batch.max(1);
    if cut.stage != finetune.freeze_stages {
        return Err(TrainError::Cut {
            path: cut.set.path.clone(),
            message: format!(
                "caches the input of stage {}, but `finetune.freeze_stages` is {}",
                cut.stage, finetune.freeze_stages
            ),
        });
    }
    let rows = CutRows {
        source: FeatureSource::new(&cut.set, cell.train_per_class, cell.subset_seed())?,
        shape: cut.shape,
    };
    let classes = rows.source.classes();
    let fresh = || -> Result<(TopNet, Vec<f64>), TrainError> {
        let whole: EfficientNet = backbone
            .load(&train_device)?
            .freeze_stages(finetune.freeze_stages);
        let expected = whole.cut_shape(cut.stage, cut.image_size);
        if expected != cut.shape {
            return Err(TrainError::Cut {
                path: cut.set.path.clone(),
                message: format!(
                    "holds activations of shape {:?}, but {}'s stage {} takes {expected:?} at {} px",
                    cut.shape,
                    backbone.weights.arch().name,
                    cut.stage,
                    cut.image_size
                ),
            });
        }
        let rates = whole.drop_connect_rates(finetune.drop_connect);
        let mut top = whole.into_top(cut.stage);
        if FinetuneSpec::batch_norm(&cell.head) == BackboneBn::Running {
            top = top.with_running_batch_norm();
        }
        let features = top.conv_head.weight.dims()[0];
        let head =
            head_config(&cell.head, train, features, classes).init(cell.draw_seed(), &train_device);
        Ok((TopNet { top, head }, rates))
    };
    let (mut net, rates) = fresh()?;
    let mut optim = optimizer::build(&settings);
    let mut log = EpochLog::default();
    let epochs_of = |c: &Cell| train.for_variant(&c.head).epochs;
    if let Some(checkpoint) = watch.checkpoint {
        let (resumed, saved) = checkpoint::resume(checkpoint, &mut net, optim)?;
        optim = resumed;
        if let Some(saved) = saved {
            log = saved;
        }
        // A checkpoint at or past a cell's count cannot measure it any more: start afresh (the
        // same numbers, every draw being keyed). Cells already recorded are not in `cells`.
        if !log.epochs.is_empty() && cells.iter().any(|c| epochs_of(c) <= log.epochs.len()) {
            checkpoint.remove();
            net = fresh()?.0;
            optim = optimizer::build(&settings);
            log = EpochLog::default();
        }
    }
    watch.epoch(&log.epochs, settings.epochs);
    let features = net.top.conv_head.weight.dims()[0];
    let schedule = Schedule {
        cell,
        epochs: settings.epochs,
        batch_size: settings.batch_size,
        labels: rows.source.labels(Split::Train),
        classes,
        drop_connect_rates: &rates,
        input_dropout: cell.head.input_dropout(),
        features,
        head_dropouts: net.head.dropout_draws(),
    };
    let step = CutStep {
        net,
        optim,
        lr: PartLr {
            backbone: finetune.backbone_lr,
            head: settings.lr,
        },
        cut: &rows,
        finetune,
        eval_batch,
        batch_size: settings.batch_size,
        train_device: train_device.clone(),
    };
    run_epochs(step, &schedule, log, &train_device, |step, log| {
        for done in cells.iter().filter(|c| epochs_of(c) == log.epochs.len()) {
            let eval = step.net.valid();
            // Val was measured at the end of this epoch (`finish` reuses it).
            let pooled = top_features(
                &eval.top,
                &rows,
                &[Split::Train, Split::Test],
                eval_batch,
                device,
            );
            let trained = Trained {
                head: step.net.head.clone(),
                log: log.clone(),
                fit: None,
            };
            finished(done, finish(trained, &pooled, device, started));
        }
        // After the last epoch the longest cell is recorded: nothing is left to resume.
        if let Some(checkpoint) = watch.checkpoint
            && log.epochs.len() < settings.epochs
        {
            checkpoint::save(checkpoint, &step.net, &step.optim, log)?;
        }
        watch.epoch(&log.epochs, settings.epochs);
        Ok(())
    })?;
    Ok(())
}
