//! Training one cell: the paired design's batches and dropout draws, Adam/SGD steps or a converged
//! full-batch L-BFGS fit, metrics.

use std::time::Instant;

use ablate_heads::{HeadConfig, SequentialHead};
use ablate_record::{CellOutcome, EpochLog, EpochMetrics, FitReport};
use ablate_spec::{Cell, HeadVariant, TrainSpec};
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{GradientsParams, LBFGSConfig, LineSearchFn};
use burn::tensor::{Device, Gradients, Tensor};

use crate::draws::StepDraws;
use crate::epochs::{Schedule, TrainStep, cross_entropy, one_hot, run_epochs};
use crate::error::TrainError;
use crate::evaluate::{Evaluation, evaluate, evaluate_with_refit};
use crate::optimizer;
use crate::source::{BatchSource, Split};

/// The head a grid variant stands for, for `input_dim` features and `classes` classes: its
/// layers with the variant's switches applied ([`ablate_spec::HeadVariant::layers`]).
pub fn head_config(
    variant: &HeadVariant,
    train: &TrainSpec,
    input_dim: usize,
    classes: usize,
) -> HeadConfig {
    HeadConfig::of(variant, input_dim, train.hidden, classes)
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
    let mut outcome = None;
    train_cells_sharing_epochs(std::slice::from_ref(cell), train, source, device, |_, o| {
        outcome = Some(o)
    })?;
    Ok(outcome.expect("a run that ends without error finishes its one cell"))
}

/// Trains `cells`, which differ in their epoch count alone (one group of
/// [`ablate_spec::epoch_prefix_groups`], in increasing epoch order), as one run to the longest
/// count, and measures each cell at its own count as it passes: draw for draw what training each
/// alone gives (tested), in the time of the longest. `finished` gets each cell the moment it is
/// measured; an error ends the run, and the cells not yet finished are the caller's to record as
/// failed. A group of one is [`train_cell`]; converged fits are groups of one.
pub fn train_cells_sharing_epochs(
    cells: &[Cell],
    train: &TrainSpec,
    source: &impl BatchSource,
    device: &Device,
    mut finished: impl FnMut(&Cell, CellOutcome),
) -> Result<(), TrainError> {
    let started = Instant::now();
    let Some(longest) = cells.last() else {
        return Ok(());
    };
    let train_device = device.clone().autodiff();
    let head = head_config(&longest.head, train, source.input_dim(), source.classes())
        .init(longest.draw_seed(), &train_device);
    // Switches the grid sets (weight decay, learning rate, epochs) override their `[train]` settings.
    let settings = train.for_variant(&longest.head);
    if longest.head.converged() {
        assert_eq!(
            cells.len(),
            1,
            "a converged fit shares its run with no cell"
        );
        let trained = fit_converged(longest, &settings, head, source, &train_device)?;
        finished(longest, finish(trained, source, device, started));
        return Ok(());
    }
    let epochs_of = |cell: &Cell| train.for_variant(&cell.head).epochs;
    train_steps(
        longest,
        &settings,
        head,
        source,
        &train_device,
        |head, log| {
            for cell in cells.iter().filter(|c| epochs_of(c) == log.epochs.len()) {
                let trained = Trained {
                    head: head.clone(),
                    log: log.clone(),
                    fit: None,
                };
                finished(cell, finish(trained, source, device, started));
            }
        },
    )
}

/// A trained head and what training recorded on the way.
pub(crate) struct Trained {
    pub head: SequentialHead,
    pub log: EpochLog,
    pub fit: Option<FitReport>,
}

/// The frozen regime's step: the head alone, on the features of `source`, with the fused Adam.
struct FrozenStep<'a, S: BatchSource> {
    head: SequentialHead,
    optim: optimizer::HeadOptimizer,
    lr: f64,
    source: &'a S,
}

impl<S: BatchSource> TrainStep for FrozenStep<'_, S> {
    fn forward(&self, batch: &[usize], draws: &StepDraws, device: &Device) -> Tensor<2> {
        let x = self.source.rows(Split::Train, batch, device);
        let x = match &draws.input_mask {
            // The backbone's own dropout on the pooled features.
            Some(mask) => x * mask.clone(),
            None => x,
        };
        self.head.forward(x, Some(&draws.head_dropout))
    }

    fn head(&self) -> &SequentialHead {
        &self.head
    }

    fn step(mut self, grads: Gradients) -> Self {
        let grads = GradientsParams::from_grads(grads, &self.head);
        self.head = self.optim.step(self.lr, self.head, grads);
        self
    }

    fn validate(self, device: &Device) -> (Self, Evaluation) {
        let val = evaluate(&self.head.valid(), self.source, Split::Val, device);
        (self, val)
    }
}

/// `[train]`'s optimizer over shuffled mini-batches for the cell's epochs, val evaluated after each;
/// `after_epoch` sees the head and the log after every epoch.
fn train_steps(
    cell: &Cell,
    settings: &TrainSpec,
    head: SequentialHead,
    source: &impl BatchSource,
    train_device: &Device,
    mut after_epoch: impl FnMut(&SequentialHead, &EpochLog),
) -> Result<(), TrainError> {
    let schedule = Schedule {
        cell,
        epochs: settings.epochs,
        batch_size: settings.batch_size,
        labels: source.labels(Split::Train),
        classes: source.classes(),
        drop_connect_rates: &[],
        input_dropout: cell.head.input_dropout(),
        features: source.input_dim(),
        head_dropouts: head.dropout_draws(),
    };
    let step = FrozenStep {
        head,
        optim: optimizer::HeadOptimizer::new(settings, train_device),
        lr: settings.lr,
        source,
    };
    run_epochs(
        step,
        &schedule,
        EpochLog::default(),
        train_device,
        |step, log| {
            after_epoch(&step.head, log);
            Ok(())
        },
    )?;
    Ok(())
}

/// Largest loss and gradient evaluations of one converged fit.
const LBFGS_MAX_ITER: usize = 1000;
/// Stops when the largest |gradient| falls below this (float32 features: tighter is noise).
const LBFGS_GRAD_TOLERANCE: f64 = 1e-5;

/// Full-batch L-BFGS with a strong-Wolfe line search on `mean cross-entropy + wd/2 |θ|²` over the
/// whole training subset, to convergence: the linear probe of Kornblith, Shlens & Le (2019). The
/// objective is deterministic (no batches, no dropout), so `lr`/`epochs` do not apply.
fn fit_converged(
    cell: &Cell,
    settings: &TrainSpec,
    head: SequentialHead,
    source: &impl BatchSource,
    train_device: &Device,
) -> Result<Trained, TrainError> {
    let device = &train_device.clone().inner();
    let rows: Vec<usize> = (0..source.len(Split::Train)).collect();
    let x = source.rows(Split::Train, &rows, train_device);
    let targets = one_hot(
        source.labels(Split::Train),
        &rows,
        source.classes(),
        train_device,
    );
    let wd = settings.weight_decay;
    let mut evaluations = 0usize;
    let mut objective = |head: SequentialHead| {
        evaluations += 1;
        let ce = cross_entropy(head.forward(x.clone(), None), targets.clone());
        let loss = if wd > 0.0 {
            ce + head.squared_norm().mul_scalar(wd / 2.0)
        } else {
            ce
        };
        let value = loss.clone().into_scalar::<f64>();
        let grads = GradientsParams::from_grads(loss.backward(), &head);
        (value, grads)
    };
    let mut lbfgs = LBFGSConfig::new()
        .with_max_iter(LBFGS_MAX_ITER)
        .with_max_eval(Some(LBFGS_MAX_ITER * 5 / 4))
        .with_tolerance_grad(LBFGS_GRAD_TOLERANCE)
        .with_history_size(20)
        .with_line_search_fn(LineSearchFn::StrongWolfe)
        .init();
    let (head, _) = lbfgs.step(1.0, head, &mut objective);
    // Where it ended: one more evaluation for the final objective and its gradient.
    let (value, grads) = objective(head.clone());
    let grad_max = grad_abs_max(&head, &grads);
    if !value.is_finite() {
        return Err(TrainError::Diverged {
            cell: cell.id(),
            epoch: 1,
            step: 0,
            loss: value as f32,
        });
    }
    let val = evaluate(&head.valid(), source, Split::Val, device);
    Ok(Trained {
        head,
        log: EpochLog {
            // One "epoch": the whole fit.
            epochs: vec![EpochMetrics {
                epoch: 1,
                train_loss: value,
                val_loss: val.loss,
                val_acc: val.acc,
                bias_grad_max: None,
            }],
            steps: evaluations,
            dropped_single_sample_batch: false,
        },
        fit: Some(FitReport {
            evaluations,
            grad_max,
            objective: value,
        }),
    })
}

/// The largest |gradient| over the head's parameters.
fn grad_abs_max(head: &SequentialHead, grads: &GradientsParams) -> f64 {
    struct AbsMax<'a> {
        grads: &'a GradientsParams,
        max: f64,
    }
    impl ModuleVisitor for AbsMax<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.get::<D>(param.id) {
                self.max = self.max.max(g.abs().max().into_scalar::<f64>());
            }
        }
    }
    let mut visitor = AbsMax { grads, max: 0.0 };
    head.visit(&mut visitor);
    visitor.max
}

/// The eval-mode measurements every cell ends with.
pub(crate) fn finish(
    trained: Trained,
    source: &impl BatchSource,
    device: &Device,
    started: Instant,
) -> CellOutcome {
    let params = trained.head.trainable_params();
    let eval_head: SequentialHead = trained.head.valid();
    let train_rows = source.len(Split::Train);
    let fit = evaluate(&eval_head, source, Split::Train, device);
    // The last epoch ended with this very evaluation (same head, same rows): reuse it.
    let (val_loss, val_acc) = match trained.log.epochs.last() {
        Some(last) => (last.val_loss, last.val_acc),
        None => {
            let val = evaluate(&eval_head, source, Split::Val, device);
            (val.loss, val.acc)
        }
    };
    // On the rows BN's running statistics were learned from, in eval mode: what is left is the
    // shift dropout upstream of BN causes (not a train/val difference in the data).
    // Every step updated BN's running statistics once.
    // G1/G2's variance shift is also measured rather than predicted: the same trained head with
    // BN's statistics recomputed on the same rows without dropout, on the same test images.
    let bn = eval_head.bn_on_training_rows(
        source.span(Split::Train, 0..train_rows, device),
        trained.log.steps,
    );
    let (bn_var_ratio, refit) = match bn {
        Some(b) => (b.var_ratio, Some(b.refit)),
        None => (None, None),
    };
    // Evaluated once, at the end: nothing during training looks at it.
    let (test, test_refit) = match source.has(Split::Test) {
        true => {
            let (test, refit) =
                evaluate_with_refit(&eval_head, refit.as_ref(), source, Split::Test, device);
            (Some(test), refit)
        }
        false => (None, None),
    };
    CellOutcome {
        epochs: trained.log.epochs,
        train_acc: fit.acc,
        train_loss: fit.loss,
        val_acc,
        val_loss,
        test_acc: test.as_ref().map(|t| t.acc),
        test_loss: test.as_ref().map(|t| t.loss),
        params,
        seconds: started.elapsed().as_secs_f64(),
        steps: trained.log.steps,
        dropped_single_sample_batch: trained.log.dropped_single_sample_batch,
        bn_var_ratio,
        test_acc_bn_refit: test_refit.map(|t| t.acc),
        test_predictions: test.map(|t| t.predicted),
        fit: trained.fit,
    }
}
