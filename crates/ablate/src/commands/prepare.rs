//! `ablate prepare`: what every shard needs before it starts, done once (features, results folder).

use std::process::ExitCode;

use ablate_data::FeatureSet;
use ablate_results::ResultsStore;
use ablate_spec::Experiment;
use anyhow::{Context, Result};

use crate::backend;
use crate::cli::PrepareArgs;
use crate::runner::{check_fits, data_summary};

pub fn prepare(args: &PrepareArgs) -> Result<ExitCode> {
    let experiment = Experiment::load(&args.experiment)?;
    let device = backend::device(args.backend)?;
    let path = super::resolve_features(&experiment, args.backend, &device, None, false)?;
    let features = FeatureSet::load(&path)
        .with_context(|| format!("loading the features of {}", args.experiment.display()))?;
    check_fits(&experiment, &features)?;
    // The shards fine-tuning from a cut read its cache; they never make it.
    if let Some(finetune) = experiment.config.finetune.as_ref().filter(|f| f.cut_cache)
        && experiment.cells().iter().any(|c| c.head.finetuned())
    {
        super::resolve_cut_cache(
            &experiment,
            args.backend,
            &device,
            finetune.freeze_stages,
            false,
        )?;
    }
    let store = ResultsStore::open(&args.out, &experiment, false)?;
    store.record_data(&data_summary(&features))?;
    eprintln!(
        "{}: features {}, results folder {} ready for {} cells",
        experiment.config.name,
        path.display(),
        store.folder().display(),
        experiment.cells().len()
    );
    Ok(ExitCode::SUCCESS)
}
