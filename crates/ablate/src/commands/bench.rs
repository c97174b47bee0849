//! `ablate bench`: training speed on synthetic features of the forum's shape (4 classes x 1000, F = 1280).

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use ablate_data::{FeatureSet, SyntheticSpec, synthetic_features, write_features};
use ablate_results::ResultsStore;
use ablate_spec::{Cell, Experiment, HeadKind, HeadVariant, Switch};
use anyhow::{Context, Result};

use crate::backend;
use crate::cli::BenchArgs;
use crate::runner::Runner;

const DIM: usize = 1280;
const HIDDEN: usize = 1024;
const CLASSES: usize = 4;
const BATCH: usize = 64;
/// The mlp head's weights, what Adam passes over (biases and BatchNorm add under 0.3%).
const WEIGHTS: usize = DIM * HIDDEN + HIDDEN * CLASSES;

/// FLOPs of one mlp training step that do useful work: forward `2BFH + 2BHC`, backward `dW1 = 2BFH`,
/// `dW2 = 2BHC`, `dH = 2BHC` (no gradient for the fixed input features).
fn mlp_step_flops() -> f64 {
    let (b, f, h, c) = (BATCH as f64, DIM as f64, HIDDEN as f64, CLASSES as f64);
    4.0 * b * f * h + 6.0 * b * h * c
}

pub fn bench(args: &BenchArgs) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let device = backend::device(args.backend)?;
    let dir = tempfile::tempdir().context("making a scratch folder")?;
    let features_path = dir.path().join("bench-features.safetensors");
    let splits = synthetic_features(&SyntheticSpec::new(CLASSES, DIM, 1000, 500));
    let names: Vec<String> = (0..CLASSES).map(|c| format!("synthetic {c}")).collect();
    write_features(&features_path, &splits, &names, &Default::default())?;
    let features = FeatureSet::load(&features_path)?;
    // Figures compare only on one machine; the fingerprint says whether two machines also round
    // fine-tuning alike (the frozen path no longer depends on it: `ablate-matmul`).
    writeln!(
        out,
        "matmul fingerprint of this machine and build: {}",
        backend::matmul_fingerprint(&device)
    )?;

    // Part 1: one mlp cell alone on one worker thread.
    let experiment = bench_experiment(&features_path, args.cell_epochs, "[0.5]", "[1000]", "[0]")?;
    let cell = Cell {
        head: HeadVariant::mlp().number(Switch::Dropout, 0.5),
        train_per_class: 1000,
        seed: 0,
    };
    let single = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let source =
        ablate_train::FeatureSource::new(&features, cell.train_per_class, cell.subset_seed())?;
    let train = &experiment.config.train;
    // Host reads (device syncs on a device backend) of the cell, and of the same cell cut to one
    // epoch: their difference over the epochs between is what one epoch costs in reads.
    let one_epoch = ablate_spec::TrainSpec {
        epochs: 1,
        ..train.clone()
    };
    let reads_before = ablate_train::host_reads();
    single.install(|| ablate_train::train_cell(&cell, &one_epoch, &source, &device))?;
    let reads_one_epoch = ablate_train::host_reads() - reads_before;
    let reads_before = ablate_train::host_reads();
    let outcome = single.install(|| ablate_train::train_cell(&cell, train, &source, &device))?;
    let reads_cell = ablate_train::host_reads() - reads_before;
    // The cell's time includes per-epoch validation; report both.
    let steps_per_s = outcome.steps as f64 / outcome.seconds;
    writeln!(
        out,
        "mlp cell (F={DIM}, hidden {HIDDEN}, batch {BATCH}, {CLASSES} classes, 1000/class, {} epochs, 1 thread, {}):",
        args.cell_epochs,
        backend::name(args.backend)
    )?;
    writeln!(
        out,
        "  {} steps in {:.2} s incl. per-epoch validation: {:.1} steps/s, {:.1} GFLOP/s achieved",
        outcome.steps,
        outcome.seconds,
        steps_per_s,
        steps_per_s * mlp_step_flops() / 1e9
    )?;
    writeln!(
        out,
        "  projected 20-epoch cell: {:.1} s",
        outcome.seconds / args.cell_epochs as f64 * 20.0
    )?;
    let steps_per_epoch = outcome.steps / args.cell_epochs.max(1);
    writeln!(
        out,
        "{}",
        describe_reads(
            reads_cell,
            reads_one_epoch,
            args.cell_epochs,
            steps_per_epoch
        )
    )?;
    if args.backend.is_device() {
        // The ceiling is the host's: its parts are timed on the CPU's kernels and the fused Adam.
        writeln!(
            out,
            "  (no step ceiling on a device backend: it times the CPU's own kernels)"
        )?;
    } else {
        let ceiling = single
            .install(|| StepCeiling::measure(train, features.val.len(), steps_per_epoch, &device));
        writeln!(out, "{}", ceiling.describe(steps_per_s))?;
    }

    // Part 1b: the same cells stacked (`ablate_train::train_stack`), against each trained alone.
    if args.stack != Some(1) {
        let train = &experiment.config.train;
        for (what, variants) in stack_variants() {
            let rows: Vec<Vec<Cell>> = variants
                .iter()
                .map(|&head| {
                    vec![Cell {
                        head,
                        train_per_class: 1000,
                        seed: 0,
                    }]
                })
                .collect();
            let one = &rows[0][0];
            let alone =
                single.install(|| ablate_train::train_cell(one, train, &source, &device))?;
            let reads_before = ablate_train::host_reads();
            let started = Instant::now();
            let mut steps = 0;
            single.install(|| {
                ablate_train::train_stack(&rows, train, &source, &device, |event| {
                    if let ablate_train::StackEvent::Finished(_, o) = event {
                        steps += o.steps;
                    }
                })
            });
            let seconds = started.elapsed().as_secs_f64();
            let reads = ablate_train::host_reads() - reads_before;
            let alone_rate = alone.steps as f64 / alone.seconds;
            let stacked_rate = steps as f64 / seconds;
            writeln!(
                out,
                "stack of {} {what} cells ({} epochs, 1 thread, {}): {:.2} s, {:.1} cell-steps/s \
                 incl. per-epoch validation; one of them alone {:.1} steps/s: {:.2}x; {} host reads",
                rows.len(),
                args.cell_epochs,
                backend::name(args.backend),
                seconds,
                stacked_rate,
                alone_rate,
                stacked_rate / alone_rate,
                reads
            )?;
        }
    }

    if args.no_grid {
        return Ok(ExitCode::SUCCESS);
    }
    // Part 2: the 81-cell grid: (8 mlp variants + linear) x 3 sizes x 3 seeds.
    let jobs = args
        .jobs
        .unwrap_or_else(|| super::default_jobs(args.backend))
        .max(1);
    let experiment = bench_experiment(
        &features_path,
        args.grid_epochs,
        "[0.0, 0.5]",
        "[25, 100, 1000]",
        "[0, 1, 2]",
    )?;
    let store = ResultsStore::open(&dir.path().join("results"), &experiment, true)?;
    let started = Instant::now();
    let cells = experiment.cells();
    let summary = Runner {
        finetune: None,
        experiment: &experiment,
        cells: &cells,
        features: &features,
        store: &store,
        device,
        backend: backend::name(args.backend),
        jobs,
        stack: args.stack.map(|n| n as usize),
    }
    .run()?;
    let wall = started.elapsed().as_secs_f64();
    let records = store.records()?;
    let cell_seconds: f64 = records.values().map(|r| r.outcome.seconds).sum();
    let big_mlp: Vec<f64> = records
        .values()
        .filter(|r| r.cell.train_per_class == 1000 && r.cell.head.kind() == HeadKind::MLP)
        .map(|r| r.outcome.seconds)
        .collect();
    writeln!(
        out,
        "{}-cell grid ({} epochs, {jobs} workers, {}): {wall:.1} s wall, {cell_seconds:.1} s summed over cells, {} failed",
        summary.total,
        args.grid_epochs,
        match args.stack {
            None => "stacked where it pays".to_string(),
            Some(1) => "unstacked".to_string(),
            Some(0) => "stacked".to_string(),
            Some(n) => format!("stacks of up to {n}"),
        },
        summary.failed.len()
    )?;
    if !big_mlp.is_empty() {
        writeln!(
            out,
            "  1000/class mlp cells: mean {:.1} s each while {jobs} run at once",
            big_mlp.iter().sum::<f64>() / big_mlp.len() as f64
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The host reads of a cell of `epochs` epochs (`cell`) and of the same cell cut to one epoch
/// (`one_epoch`): per epoch, and what is left at the cell's start and end (final evaluations).
fn describe_reads(cell: usize, one_epoch: usize, epochs: usize, steps_per_epoch: usize) -> String {
    if epochs < 2 {
        return format!("  host reads: {cell} in the cell (run 2+ epochs to see them per epoch)");
    }
    let per_epoch = (cell - one_epoch) as f64 / (epochs - 1) as f64;
    format!(
        "  host reads (device syncs on a device backend): {per_epoch:.1} per epoch of {steps_per_epoch} steps \
         (training and validation), {:.0} more per cell (final evaluations); {cell} in all",
        cell as f64 - per_epoch * epochs as f64
    )
}

/// What one mlp training step cannot go below on this machine: its parts timed alone on one
/// thread, each the same work as in the step (the products through burn, output buffer included).
/// Validation runs once per epoch and is spread over the epoch's steps. Everything else a step does
/// (BatchNorm, ReLU, dropout, the loss, the second layer, autodiff's bookkeeping) is left out, so
/// a cell reaching the ceiling would spend no time there at all.
struct StepCeiling {
    forward: f64,
    weight_gradient: f64,
    adam: f64,
    validation_per_step: f64,
}

impl StepCeiling {
    fn measure(
        train: &ablate_spec::TrainSpec,
        val_rows: usize,
        steps_per_epoch: usize,
        device: &burn::tensor::Device,
    ) -> Self {
        use burn::tensor::{Distribution, Tensor};
        let random =
            |dims: [usize; 2]| Tensor::<2>::random(dims, Distribution::Uniform(-1.0, 1.0), device);
        let (x, w, dy) = (
            random([BATCH, DIM]),
            random([DIM, HIDDEN]),
            random([BATCH, HIDDEN]),
        );
        let val = random([val_rows.max(1), DIM]);
        let forward = seconds_per_call(40, || ablate_matmul::matmul(x.clone(), w.clone()));
        let weight_gradient = seconds_per_call(40, || x.clone().transpose().matmul(dy.clone()));
        let validation = seconds_per_call(3, || ablate_matmul::matmul(val.clone(), w.clone()));
        Self {
            forward,
            weight_gradient,
            adam: ablate_train::adam_pass_seconds(train, WEIGHTS, 20),
            validation_per_step: validation / steps_per_epoch.max(1) as f64,
        }
    }

    fn steps_per_s(&self) -> f64 {
        1.0 / (self.forward + self.weight_gradient + self.adam + self.validation_per_step)
    }

    fn describe(&self, achieved_steps_per_s: f64) -> String {
        let product_flops = 2.0 * (BATCH * DIM * HIDDEN) as f64;
        format!(
            "  ceiling, the step's parts timed alone: forward product {:.2} ms ({:.0} GFLOP/s), \
             weight gradient {:.2} ms ({:.0} GFLOP/s), Adam over {:.2}M parameters {:.2} ms, \
             validation {:.2} ms per step: at most {:.0} steps/s; this cell ran at {:.0}% of it",
            self.forward * 1e3,
            product_flops / self.forward / 1e9,
            self.weight_gradient * 1e3,
            product_flops / self.weight_gradient / 1e9,
            WEIGHTS as f64 / 1e6,
            self.adam * 1e3,
            self.validation_per_step * 1e3,
            self.steps_per_s(),
            100.0 * achieved_steps_per_s / self.steps_per_s()
        )
    }
}

/// Mean seconds of `f` over `reps` calls after one warm-up call; the last result is read back, so
/// a device that queues work (cuda) has finished it inside the measured time.
fn seconds_per_call(reps: usize, mut f: impl FnMut() -> burn::tensor::Tensor<2>) -> f64 {
    drop(f().into_data());
    let started = Instant::now();
    let mut last = None;
    for _ in 0..reps.max(1) {
        last = Some(f());
    }
    drop(last.map(|t| t.into_data()));
    started.elapsed().as_secs_f64() / reps.max(1) as f64
}

/// The stacks part 1b times: the grid's 8 mlp variants, and 8 linear ones (the forum's L2 axis and
/// the last bias).
fn stack_variants() -> [(&'static str, Vec<HeadVariant>); 2] {
    let mut mlp = Vec::new();
    for bias in [true, false] {
        for relu in [true, false] {
            for dropout in [0.0, 0.5] {
                mlp.push(
                    HeadVariant::mlp()
                        .flag(Switch::BiasBeforeBn, bias)
                        .flag(Switch::Relu, relu)
                        .number(Switch::Dropout, dropout),
                );
            }
        }
    }
    let mut linear = Vec::new();
    for last_bias in [true, false] {
        for wd in [0.0, 1e-4, 1e-3, 1e-2] {
            linear.push(
                HeadVariant::linear()
                    .flag(Switch::LastBias, last_bias)
                    .number(Switch::WeightDecay, wd),
            );
        }
    }
    [("mlp", mlp), ("linear", linear)]
}

fn bench_experiment(
    features: &std::path::Path,
    epochs: usize,
    dropout: &str,
    sizes: &str,
    seeds: &str,
) -> Result<Experiment> {
    let text = format!(
        r#"
name = "bench"
[data]
kind = "features"
path = {path:?}
[train]
epochs = {epochs}
batch_size = {BATCH}
hidden = {HIDDEN}
[grid]
head = ["mlp", "linear"]
bias_before_bn = [true, false]
relu = [true, false]
dropout = {dropout}
train_per_class = {sizes}
seeds = {seeds}
"#,
        path = features.display().to_string()
    );
    Ok(Experiment::from_toml_str(&text, "bench.toml".as_ref())?)
}
