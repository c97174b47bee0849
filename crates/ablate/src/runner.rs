//! Runs the missing cells of a grid in parallel and persists each one the moment it ends.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use ablate_data::FeatureSet;
use ablate_images::ImageSet;
use ablate_record::{CheckpointDir, CheckpointStore};
use ablate_results::{
    CellOutcome, CellRecord, DataSummary, FailedCell, Provenance, ResultsError, ResultsStore,
};
use ablate_spec::{Cell, Experiment, FinetuneSpec};
use ablate_train::{CutSet, ImageBatches, PretrainedBackbone, Watch};
use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use rayon::prelude::*;

use crate::cli::Backend;
use crate::progress::GridProgress;

/// What a run did.
pub struct RunSummary {
    pub total: usize,
    pub already_done: usize,
    pub trained: usize,
    pub failed: Vec<FailedCell>,
    pub wall: Duration,
}

/// What fine-tuning cells train on besides the features: the images, preprocessed once for the
/// whole run, or the cut cache of the frozen stages' output (`[finetune] cut_cache`); and the
/// pretrained weights each cell starts from.
pub struct FinetuneInputs {
    pub data: FinetuneData,
    pub backbone: PretrainedBackbone,
    pub spec: FinetuneSpec,
}

/// What a fine-tuning cell's steps read.
pub enum FinetuneData {
    /// The whole network trains on images.
    Images(ImageSet),
    /// The stages above the cut train on the cached activations entering them.
    Cut(CutSet),
}

impl FinetuneInputs {
    /// The experiment's images at `backbone.image_size`, in the order the features file has them
    /// (so a seed draws the same training images in both regimes), or its cut cache (made first
    /// if missing, except by a shard).
    pub fn prepare(
        experiment: &Experiment,
        backend: Backend,
        device: &Device,
        shard: bool,
    ) -> Result<Self> {
        let plan = ablate_features::Plan::new(experiment)?;
        let spec = experiment.config.finetune.clone().unwrap_or_default();
        let data = if spec.cut_cache {
            FinetuneData::Cut(crate::commands::resolve_cut_cache(
                experiment,
                backend,
                device,
                spec.freeze_stages,
                shard,
            )?)
        } else {
            FinetuneData::Images(
                ImageSet::preprocess(&plan.dataset, &plan.preprocess)
                    .context("preprocessing the images for fine-tuning")?,
            )
        };
        Ok(FinetuneInputs {
            data,
            backbone: PretrainedBackbone {
                weights: ablate_backbone::Pretrained::load(&plan.arch, &plan.backbone.weights)?,
                eval_batch: plan.backbone.batch_size,
            },
            spec,
        })
    }
}

pub struct Runner<'a> {
    pub experiment: &'a Experiment,
    /// The cells this run is responsible for (the whole grid, or one shard of it).
    pub cells: &'a [Cell],
    pub features: &'a FeatureSet,
    /// Present when some of `cells` fine-tune the backbone.
    pub finetune: Option<&'a FinetuneInputs>,
    pub store: &'a ResultsStore,
    pub device: Device,
    pub backend: &'static str,
    pub jobs: usize,
    /// The most epoch-prefix groups one stack trains (`--stack`; 1: every group on its own; 0:
    /// as many as [`STACK_MEMORY`] holds); `None`: that many where stacking pays, else 1
    /// ([`Runner::stack_limit`]).
    pub stack: Option<usize>,
}

/// What the stacks one worker trains at a time may take of memory when `--stack` leaves their size
/// to ablate: about 2 GiB per worker (see [`stack_row_bytes`]).
pub const STACK_MEMORY: usize = 2 << 30;

/// What one row of a stack holds while it trains, in bytes: its parameters four times (values,
/// gradients, Adam's two moments), and per step its input, its dropout keep-scales and each
/// layer's output with its gradient (`batch x width`, twice, per layer), all f32. The mlp head of
/// the forum (F = 1280, H = 1024, batch 64) is about 22 MB a row: 90 rows in 2 GiB.
pub fn stack_row_bytes(config: &ablate_heads::HeadConfig, batch: usize) -> usize {
    let mut width = config.d_input;
    let mut params = 0;
    let mut activations = config.d_input * 2;
    for (_, layer) in &config.layers {
        match *layer {
            ablate_spec::Layer::Linear { out, bias } => {
                let out = config.width(out);
                params += width * out + if bias { out } else { 0 };
                width = out;
            }
            ablate_spec::Layer::BatchNorm | ablate_spec::Layer::LayerNorm => params += 2 * width,
            _ => {}
        }
        activations += 2 * width;
    }
    4 * (4 * params + batch * activations)
}

/// Refuses a grid that asks for more training samples per class than the features file has.
pub fn check_fits(experiment: &Experiment, features: &FeatureSet) -> Result<()> {
    let (class, available) = features.smallest_class();
    if let Some(&too_many) = experiment
        .config
        .grid
        .train_per_class
        .iter()
        .find(|&&n| n > available)
    {
        bail!(
            "{}: `grid.train_per_class` asks for {too_many} per class, but {} has only {available} training samples of class {class} ({})",
            experiment.source.display(),
            features.path.display(),
            features.class_names[class]
        );
    }
    Ok(())
}

/// What the grid trains on, for the results manifest (the report's setup reads it).
pub fn data_summary(features: &FeatureSet) -> DataSummary {
    DataSummary {
        features: features.path.display().to_string(),
        class_names: features.class_names.clone(),
        dim: features.dim(),
        train_rows: features.train.len(),
        val_rows: features.val.len(),
        test_rows: features.test.as_ref().map_or(0, |t| t.len()),
        smallest_class_rows: features.smallest_class().1,
        test_labels: features
            .test
            .as_ref()
            .map_or_else(Vec::new, |t| t.y.clone()),
    }
}

/// Says once, before training, which training sizes leave a last batch of one sample per epoch.
pub fn note_single_sample_batches(experiment: &Experiment, features: &FeatureSet) {
    let batch = experiment.config.train.batch_size;
    for &n in &experiment.config.grid.train_per_class {
        let rows = n * features.num_classes;
        if rows % batch == 1 {
            eprintln!(
                "note: train_per_class {n} gives {rows} rows, so each epoch ends with a batch of 1 sample at batch_size {batch}; \
                 it is skipped (BatchNorm cannot train on a single sample)"
            );
        }
    }
}

impl Runner<'_> {
    pub fn run(&self) -> Result<RunSummary> {
        let started = Instant::now();
        let cells = self.cells;
        let missing = self.store.missing_cells(cells)?;
        let already_done = cells.len() - missing.len();
        let cost = |c: &Cell| ablate_spec::shard::cell_cost(self.experiment, c);
        // Cells that differ in their epoch count alone train as one run to the longest count, and
        // such runs of one seed, size and layer list as one stack (`ablate_spec::stack_key`).
        // Largest first, handed out in that order as workers free up (`par_bridge`; a slice's
        // `par_iter` would split the list in halves and start one worker on the smallest), so the
        // grid ends with small ones, not with one big one.
        let mut stacks = self.stacks(&missing);
        let stack_cost = |s: &Vec<Vec<Cell>>| s.iter().map(|g| self.group_cost(g)).sum::<f64>();
        stacks.sort_by(|a, b| stack_cost(b).total_cmp(&stack_cost(a)));

        let progress = GridProgress::new(&missing.iter().map(cost).collect::<Vec<_>>());
        let failed = Mutex::new(Vec::new());
        let fatal: Mutex<Option<ResultsError>> = Mutex::new(None);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.jobs)
            .build()
            .context("starting the worker threads")?;
        // A cell's result is saved the moment it is measured; a result that cannot be saved stops
        // the run (the workers finish their current group and take no other).
        let settle = |cell: &Cell, result: Result<CellRecord>| {
            let saved = match result {
                Ok(record) => {
                    let line = format!(
                        "{}  train_acc {:.4}  val_acc {:.4}  {:.1}s",
                        record.cell_id,
                        record.outcome.train_acc,
                        record.outcome.val_acc,
                        record.outcome.seconds
                    );
                    let saved = self.store.save(&record).map(|()| line);
                    if saved.is_ok() && cell.head.finetuned() {
                        // The record is safe: nothing left to resume.
                        self.checkpoint(cell).remove();
                    }
                    saved
                }
                Err(error) => {
                    let failure = FailedCell {
                        cell_id: cell.id(),
                        provenance: self.provenance(),
                        error: format!("{error:#}"),
                    };
                    let line = format!("{}  FAILED: {}", failure.cell_id, failure.error);
                    let saved = self.store.save_failure(&failure).map(|()| line);
                    failed
                        .lock()
                        .expect("no worker panics holding it")
                        .push(failure);
                    saved
                }
            };
            match saved {
                Ok(line) => progress.cell_done(&line, cost(cell)),
                Err(e) => {
                    fatal
                        .lock()
                        .expect("no worker panics holding it")
                        .get_or_insert(e);
                }
            }
        };
        pool.install(|| {
            stacks.iter().par_bridge().for_each(|stack| {
                if fatal.lock().expect("no worker panics holding it").is_some() {
                    return;
                }
                match stack.as_slice() {
                    [group] => match group.first() {
                        Some(first) if first.head.finetuned() => {
                            self.train_finetune_group(group, &progress, &settle);
                        }
                        _ => self.train_frozen(group, &settle),
                    },
                    rows => self.train_stacked(rows, &settle),
                }
            });
        });
        progress.finish();
        if let Some(e) = fatal.into_inner().expect("workers are done") {
            return Err(e).context("saving a finished cell");
        }
        let mut failed = failed.into_inner().expect("workers are done");
        failed.sort_by(|a, b| a.cell_id.cmp(&b.cell_id));
        Ok(RunSummary {
            total: cells.len(),
            already_done,
            trained: missing.len() - failed.len(),
            failed,
            wall: started.elapsed(),
        })
    }

    fn provenance(&self) -> Provenance {
        Provenance {
            config_hash: self.store.config_hash().to_string(),
            features_sha256: self.features.sha256.clone(),
            backbone_sha256: self
                .features
                .metadata
                .get(ablate_data::meta::WEIGHTS_SHA256)
                .cloned()
                .unwrap_or_default(),
            dataset_sha256: self
                .features
                .metadata
                .get(ablate_data::meta::DATASET_SHA256)
                .cloned()
                .unwrap_or_default(),
            backend: self.backend.to_string(),
            ablate_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    /// Where a fine-tuning cell saves its state after each epoch (removed once its record is saved).
    fn checkpoint(&self, cell: &Cell) -> CheckpointDir {
        let id = cell.id();
        CheckpointDir::new(
            &self.store.layout().checkpoint(&id),
            &id,
            self.store.config_hash(),
        )
    }

    fn record(&self, cell: &Cell, outcome: CellOutcome) -> CellRecord {
        CellRecord {
            cell_id: cell.id(),
            cell: *cell,
            provenance: self.provenance(),
            outcome,
        }
    }

    /// Trains a group of fine-tuning cells that differ in their epoch count alone: from a cut
    /// cache as one run (see [`ablate_train::train_cut_cells`]); on images each on its own.
    fn train_finetune_group(
        &self,
        group: &[Cell],
        progress: &GridProgress,
        settle: &(impl Fn(&Cell, Result<CellRecord>) + Sync),
    ) {
        let Some(inputs) = self.finetune else {
            for cell in group {
                settle(
                    cell,
                    Err(anyhow::anyhow!(
                        "fine-tuning cell without images (FinetuneInputs::prepare was not run)"
                    )),
                );
            }
            return;
        };
        let Some(longest) = group.last() else {
            return;
        };
        let train = &self.experiment.config.train;
        let cell_progress = progress.cell(&longest.id());
        let on_epoch = |done: &[ablate_record::EpochMetrics], all| cell_progress.epoch(done, all);
        match &inputs.data {
            FinetuneData::Images(set) => {
                for cell in group {
                    let checkpoint = self.checkpoint(cell);
                    let watch = Watch {
                        checkpoint: Some(&checkpoint),
                        on_epoch: Some(&on_epoch),
                    };
                    let outcome = ImageBatches::new(set, cell.train_per_class, cell.subset_seed())
                        .and_then(|images| {
                            ablate_train::train_finetune_cell(
                                cell,
                                train,
                                &inputs.spec,
                                &inputs.backbone,
                                &images,
                                &self.device,
                                watch,
                            )
                        });
                    settle(
                        cell,
                        outcome.map(|o| self.record(cell, o)).map_err(Into::into),
                    );
                }
            }
            FinetuneData::Cut(cut) => {
                let checkpoint = self.checkpoint(longest);
                let watch = Watch {
                    checkpoint: Some(&checkpoint),
                    on_epoch: Some(&on_epoch),
                };
                let mut done = 0usize;
                let ended = ablate_train::train_cut_cells(
                    group,
                    &ablate_train::CutInputs {
                        train,
                        finetune: &inputs.spec,
                        backbone: &inputs.backbone,
                        cut,
                    },
                    &self.device,
                    watch,
                    |cell, outcome| {
                        done += 1;
                        settle(cell, Ok(self.record(cell, outcome)));
                    },
                );
                if let Err(e) = ended {
                    settle_unfinished(group, done, &e, settle);
                }
            }
        }
    }

    /// Trains a group of frozen-backbone cells that differ in their epoch count alone as one run
    /// (see [`epoch_prefix_groups`]); `settle` gets each cell's record or error.
    fn train_frozen(&self, group: &[Cell], settle: &(impl Fn(&Cell, Result<CellRecord>) + Sync)) {
        let Some(longest) = group.last() else {
            return;
        };
        let source = match ablate_train::FeatureSource::new(
            self.features,
            longest.train_per_class,
            longest.subset_seed(),
        ) {
            Ok(source) => source,
            Err(e) => {
                let message = format!("{e:#}");
                for cell in group {
                    settle(cell, Err(anyhow::anyhow!("{message}")));
                }
                return;
            }
        };
        let mut done = 0usize;
        let ended = ablate_train::train_cells_sharing_epochs(
            group,
            &self.experiment.config.train,
            &source,
            &self.device,
            |cell, outcome| {
                done += 1;
                settle(cell, Ok(self.record(cell, outcome)));
            },
        );
        if let Err(e) = ended {
            settle_unfinished(group, done, &e, settle);
        }
    }
}

impl Runner<'_> {
    /// `cells` as the stacks this run trains: [`ablate_spec::stack_group_indices`], each cut into
    /// pieces of at most [`Runner::stack_limit`] groups, the groups of one piece of about the same
    /// epoch count (a row that is done leaves its stack, but the stack runs to its longest row).
    /// With several workers no piece is estimated at more than a quarter of one worker's share of
    /// the run, so that the run does not end with one worker training a big stack alone.
    fn stacks(&self, cells: &[Cell]) -> Vec<Vec<Vec<Cell>>> {
        let train = &self.experiment.config.train;
        let epochs = |g: &Vec<Cell>| g.last().map_or(0, |c| train.for_variant(&c.head).epochs);
        let stacks: Vec<Vec<Vec<Cell>>> = ablate_spec::stack_group_indices(cells, train)
            .into_iter()
            .map(|stack| {
                let mut groups: Vec<Vec<Cell>> = stack
                    .into_iter()
                    .map(|g| g.into_iter().map(|i| cells[i]).collect())
                    .collect();
                groups.sort_by_key(|g| std::cmp::Reverse(epochs(g)));
                groups
            })
            .collect();
        // A stack's cost is taken as its groups' sum, what they cost one at a time: an upper
        // bound, so the cap errs towards smaller pieces.
        let total: f64 = stacks.iter().flatten().map(|g| self.group_cost(g)).sum();
        let cap = if self.jobs > 1 {
            total / (4 * self.jobs) as f64
        } else {
            f64::INFINITY
        };
        let mut out = Vec::new();
        for groups in stacks {
            let limit = self.stack_limit(&groups[0][0]).max(1);
            let mut piece: Vec<Vec<Cell>> = Vec::new();
            let mut piece_cost = 0.0;
            for group in groups {
                let group_cost = self.group_cost(&group);
                if !piece.is_empty() && (piece.len() == limit || piece_cost + group_cost > cap) {
                    out.push(std::mem::take(&mut piece));
                    piece_cost = 0.0;
                }
                piece_cost += group_cost;
                piece.push(group);
            }
            out.push(piece);
        }
        out
    }

    /// The estimated cost of one epoch-prefix group: its longest cell's, the run it trains.
    fn group_cost(&self, group: &[Cell]) -> f64 {
        group
            .last()
            .map_or(0.0, |c| ablate_spec::shard::cell_cost(self.experiment, c))
    }

    /// The most groups one stack of `cell`'s kind trains: `--stack N` if given (0: as many as
    /// [`STACK_MEMORY`] holds); by default as many as that where stacking pays on this backend
    /// ([`ablate_heads::stacking_pays`]: on flex, linear probes), else 1.
    fn stack_limit(&self, cell: &Cell) -> usize {
        let train = &self.experiment.config.train;
        let config = ablate_train::head_config(
            &cell.head,
            train,
            self.features.dim(),
            self.features.num_classes,
        );
        let memory = STACK_MEMORY
            / stack_row_bytes(&config, train.for_variant(&cell.head).batch_size).max(1);
        match self.stack {
            Some(0) => memory,
            Some(n) => n,
            None if ablate_heads::stacking_pays(&config, &self.device) => memory,
            None => 1,
        }
    }

    /// Trains a stack of epoch-prefix groups of frozen-backbone cells (one seed and size: one
    /// training subset) as one model; `settle` gets each cell's record or error.
    fn train_stacked(
        &self,
        rows: &[Vec<Cell>],
        settle: &(impl Fn(&Cell, Result<CellRecord>) + Sync),
    ) {
        let Some(first) = rows.first().and_then(|r| r.first()) else {
            return;
        };
        let source = match ablate_train::FeatureSource::new(
            self.features,
            first.train_per_class,
            first.subset_seed(),
        ) {
            Ok(source) => source,
            Err(e) => {
                let message = format!("{e:#}");
                for cell in rows.iter().flatten() {
                    settle(cell, Err(anyhow::anyhow!("{message}")));
                }
                return;
            }
        };
        ablate_train::train_stack(
            rows,
            &self.experiment.config.train,
            &source,
            &self.device,
            |event| match event {
                ablate_train::StackEvent::Finished(cell, outcome) => {
                    settle(cell, Ok(self.record(cell, outcome)));
                }
                ablate_train::StackEvent::Failed { row, done, error } => {
                    settle_unfinished(&rows[row], done, &error, settle);
                }
            },
        );
    }
}

/// A group's run ended with `error` after `done` of its cells were recorded: the others are
/// settled as failed, each shorter one saying it trained as the first epochs of the longest.
fn settle_unfinished(
    group: &[Cell],
    done: usize,
    error: &dyn std::fmt::Display,
    settle: &(impl Fn(&Cell, Result<CellRecord>) + Sync),
) {
    let message = format!("{error:#}");
    let Some(longest) = group.last() else {
        return;
    };
    for cell in &group[done..] {
        let context = if cell == longest {
            String::new()
        } else {
            format!(" (trained as the first epochs of {})", longest.id())
        };
        settle(cell, Err(anyhow::anyhow!("{message}{context}")));
    }
}
