//! `ablate run`.

use std::process::ExitCode;

use ablate_data::FeatureSet;
use ablate_results::{ResultsStore, build_tables};
use ablate_spec::Experiment;
use anyhow::{Context, Result};

use crate::backend;
use crate::cli::RunArgs;
use crate::runner::{Runner, check_fits, note_single_sample_batches};

pub fn run(args: &RunArgs) -> Result<ExitCode> {
    let experiment = Experiment::load(&args.experiment)?;
    let device = backend::device(args.backend)?;
    let features_path = super::resolve_features(&experiment, &device, None, false)?;
    let features = FeatureSet::load(&features_path)
        .with_context(|| format!("loading the features of {}", args.experiment.display()))?;
    check_fits(&experiment, &features)?;
    let store = ResultsStore::open(&args.out, &experiment, args.restart)?;
    note_single_sample_batches(&experiment, &features);

    let runner = Runner {
        experiment: &experiment,
        features: &features,
        store: &store,
        device,
        backend: backend::name(args.backend),
        jobs: args.jobs.unwrap_or_else(super::default_jobs).max(1),
    };
    let summary = runner.run()?;

    let records = store.records()?;
    let mut tables =
        build_tables(&experiment.cells(), &records).context("building the results tables")?;
    tables.write(store.folder())?;

    eprintln!(
        "{}: {} cells, {} done before, {} trained now, {} failed, {:.1}s; tables in {}",
        experiment.name,
        summary.total,
        summary.already_done,
        summary.trained,
        summary.failed.len(),
        summary.wall.as_secs_f64(),
        store.folder().display()
    );
    if !args.no_report {
        let out = args
            .report
            .clone()
            .unwrap_or_else(|| super::report::default_out(&experiment.name));
        super::report::write_and_summarise(store.folder(), &out)?;
    }
    if summary.failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        for failure in &summary.failed {
            eprintln!("failed: {}: {}", failure.cell_id, failure.error);
        }
        eprintln!("rerun the same command to retry the failed cells");
        Ok(ExitCode::from(2))
    }
}
