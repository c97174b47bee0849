//! `ablate features`, and the step `ablate run` takes before training on images.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use ablate_data::FeatureSet;
use ablate_features::{Plan, extract};
use ablate_spec::{DataSpec, Experiment};
use ablate_train::CutSet;
use anyhow::{Context, Result};
use burn::tensor::Device;
use indicatif::{ProgressBar, ProgressStyle};

use crate::backend;
use crate::cli::{Backend, FeaturesArgs};

/// Where extracted features are cached (an ignored folder, like the weights).
const CACHE_DIR: &str = "assets/features";

pub fn features(args: &FeaturesArgs) -> Result<ExitCode> {
    let experiment = Experiment::load(&args.experiment)?;
    let device = backend::device(args.backend)?;
    let path = resolve_features(
        &experiment,
        args.backend,
        &device,
        args.out.as_deref(),
        args.force,
    )?;
    println_path(&path)?;
    Ok(ExitCode::SUCCESS)
}

fn println_path(path: &Path) -> Result<()> {
    use std::io::Write;
    writeln!(std::io::stdout().lock(), "{}", path.display())?;
    Ok(())
}

/// The cache file of `plan`'s features extracted on `backend`. A device backend rounds the
/// backbone's sums in its own order, so its features are a file of their own (`...-wgpu`): a flex
/// run never trains on a GPU's features, nor the reverse, and each reproduces its own.
fn cache_file(plan: &Plan, backend: Backend) -> PathBuf {
    let path = plan.cache_path(Path::new(CACHE_DIR));
    if !backend.is_device() {
        return path;
    }
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("cache names are ASCII");
    path.with_file_name(format!("{stem}-{}.safetensors", backend::name(backend)))
}

/// The features of one shard: only from the cache that `ablate prepare` filled (the Slurm array's
/// first job). A shard never extracts: N tasks would all do the same work at once.
pub fn cached_features(experiment: &Experiment, backend: Backend) -> Result<PathBuf> {
    let plan = match source(experiment)? {
        Source::Ready(path) => return Ok(path),
        Source::Extract(plan) => plan,
    };
    let path = cache_file(&plan, backend);
    if !path.exists() {
        anyhow::bail!(
            "{}: its features are not extracted yet (no {}); run `ablate prepare {}` once before the shards",
            experiment.source.display(),
            path.display(),
            experiment.source.display()
        );
    }
    note_reuse(&path, &plan);
    Ok(path)
}

/// Where an experiment's features come from: a ready file, or an extraction (cached by its key).
enum Source {
    Ready(PathBuf),
    Extract(Box<Plan>),
}

fn source(experiment: &Experiment) -> Result<Source> {
    if let DataSpec::Features { path } = &experiment.config.data {
        return Ok(Source::Ready(path.clone()));
    }
    Plan::new(experiment)
        .map(|plan| Source::Extract(Box::new(plan)))
        .with_context(|| format!("preparing the features of {}", experiment.source.display()))
}

fn note_reuse(path: &Path, plan: &Plan) {
    eprintln!(
        "{}: reusing {} (cache key {})",
        if plan.cut.is_some() {
            "cut cache"
        } else {
            "features"
        },
        path.display(),
        plan.key
    );
}

/// The features file an experiment trains on: its `path` for `kind = "features"`; otherwise the cached
/// extraction, made first if it is missing (or `force`d).
pub fn resolve_features(
    experiment: &Experiment,
    backend: Backend,
    device: &Device,
    out: Option<&Path>,
    force: bool,
) -> Result<PathBuf> {
    let plan = match source(experiment)? {
        Source::Ready(path) => return Ok(path),
        Source::Extract(plan) => plan,
    };
    let path = out.map_or_else(|| cache_file(&plan, backend), Path::to_path_buf);
    if path.exists() && !force && out.is_none() {
        note_reuse(&path, &plan);
        return Ok(path);
    }
    extract_to(&plan, &path, device)?;
    Ok(path)
}

/// Runs `plan`'s extraction into `path`, with a progress bar and its rate.
fn extract_to(plan: &Plan, path: &Path, device: &Device) -> Result<()> {
    let total = plan.images();
    let what = match plan.cut {
        Some(stage) => format!("cut cache (the input of stage {stage})"),
        None => "features".into(),
    };
    eprintln!(
        "{what}: {} on {} train + {} val + {} test images at {} px -> {}",
        plan.arch.name,
        plan.dataset.train.len(),
        plan.dataset.val.len(),
        plan.dataset.test.len(),
        plan.preprocess.size,
        path.display()
    );
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} images  {per_sec}  ETA {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    let started = Instant::now();
    extract(plan, path, device, &|done| bar.set_position(done as u64))?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "{what}: {total} images in {seconds:.1} s ({:.1} images/s)",
        total as f64 / seconds
    );
    Ok(())
}

/// The cut cache that `[finetune] cut_cache` trains from: the activations entering stage
/// `stage` for every image, cached by a key over the weights, the images, the preprocessing and
/// the cut, and made first if missing (a shard never makes it: `ablate prepare` does). A file
/// whose recorded key is not the experiment's is refused, never trained on.
pub fn resolve_cut_cache(
    experiment: &Experiment,
    backend: Backend,
    device: &Device,
    stage: usize,
    shard: bool,
) -> Result<CutSet> {
    let plan = Plan::new(experiment)
        .with_context(|| format!("preparing the cut cache of {}", experiment.source.display()))?
        .cut_at(stage);
    let path = cache_file(&plan, backend);
    if path.exists() {
        note_reuse(&path, &plan);
    } else if shard {
        anyhow::bail!(
            "{}: its cut cache is not made yet (no {}); run `ablate prepare {}` once before the shards",
            experiment.source.display(),
            path.display(),
            experiment.source.display()
        );
    } else {
        extract_to(&plan, &path, device)?;
    }
    let set = FeatureSet::load(&path)
        .with_context(|| format!("loading the cut cache of {}", experiment.source.display()))?;
    plan.check(&set)?;
    Ok(CutSet::new(set)?)
}
