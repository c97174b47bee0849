//! `ablate run`: the whole grid, one shard of it, or a listed subset.

use std::path::Path;
use std::process::ExitCode;

use ablate_data::FeatureSet;
use ablate_results::{Layout, ResultsStore, RunInfo, build_tables};
use ablate_spec::shard::{self, Shard};
use ablate_spec::{Cell, Experiment};
use anyhow::{Context, Result, bail};

use crate::backend;
use crate::cli::RunArgs;
use crate::runner::{FinetuneInputs, Runner, check_fits, data_summary, note_single_sample_batches};

pub fn run(args: &RunArgs) -> Result<ExitCode> {
    let experiment = Experiment::load(&args.experiment)?;
    // Every argument is checked before anything is written.
    let shard = args
        .shard
        .as_deref()
        .map(|text| {
            if text == "auto" {
                Shard::from_env(|name| std::env::var(name).ok())
            } else {
                Shard::parse(text)
            }
        })
        .transpose()?;
    if args.restart && (shard.is_some() || args.cells.is_some()) {
        bail!(
            "--restart cannot be combined with --shard or --cells: it would delete other shards' cells"
        );
    }
    let mut cells = experiment.cells();
    if let Some(list) = &args.cells {
        cells = read_cell_list(list, &cells)?;
    }
    if let Some(shard) = shard {
        let of = shard::assign(&experiment, &cells, shard.count);
        cells = cells
            .into_iter()
            .zip(of)
            .filter(|(_, k)| *k == shard.index)
            .map(|(c, _)| c)
            .collect();
    }
    let partial = shard.is_some() || args.cells.is_some();

    let device = backend::device(args.backend)?;
    let features_path = if shard.is_some() {
        super::cached_features(&experiment, args.backend)?
    } else {
        super::resolve_features(&experiment, args.backend, &device, None, false)?
    };
    let features = FeatureSet::load(&features_path)
        .with_context(|| format!("loading the features of {}", args.experiment.display()))?;
    check_fits(&experiment, &features)?;
    // Before the results folder is touched: a stale or missing cut cache leaves it as it was.
    let finetune = if cells.iter().any(|c| c.head.finetuned()) {
        Some(FinetuneInputs::prepare(
            &experiment,
            args.backend,
            &device,
            shard.is_some(),
        )?)
    } else {
        None
    };
    let store = if partial {
        ResultsStore::open_shard(&args.out, &experiment)?
    } else {
        ResultsStore::open(&args.out, &experiment, args.restart)?
    };
    // Before anything is written: a refused run leaves the folder as it was.
    refuse_other_backends(&store, backend::name(args.backend))?;
    if !partial {
        store.record_data(&data_summary(&features))?;
    }
    note_single_sample_batches(&experiment, &features);

    let runner = Runner {
        experiment: &experiment,
        cells: &cells,
        features: &features,
        finetune: finetune.as_ref(),
        store: &store,
        device,
        backend: backend::name(args.backend),
        jobs: args
            .jobs
            .unwrap_or_else(|| super::default_jobs(args.backend))
            .max(1),
        stack: args.stack.map(|n| n as usize),
    };
    let summary = runner.run()?;
    let what = match shard {
        Some(s) => format!("{} shard {}/{}", experiment.config.name, s.index, s.count),
        None => experiment.config.name.clone(),
    };
    eprintln!(
        "{what}: {} cells, {} done before, {} trained now, {} failed, {:.1}s",
        summary.total,
        summary.already_done,
        summary.trained,
        summary.failed.len(),
        summary.wall.as_secs_f64(),
    );

    if summary.trained > 0 {
        let label = match shard {
            Some(s) => format!("shard{}of{}", s.index, s.count),
            None => "local".into(),
        };
        record_run(
            store.layout(),
            &label,
            &summary,
            runner.jobs,
            runner.backend,
            backend::device_name(&runner.device),
            &backend::matmul_fingerprint(&runner.device),
        )?;
    }
    if partial {
        // Shards never write a file in common; the tables and the report are the merge's job.
        eprintln!(
            "cells in {}; combine them with `ablate merge {}`",
            store.layout().cells_dir().display(),
            store.folder().display()
        );
    } else {
        let records = store.records()?;
        let mut tables =
            build_tables(&experiment.cells(), &records).context("building the results tables")?;
        tables.write(store.layout())?;
        eprintln!("tables in {}", store.folder().display());
        if !args.no_report {
            let out = args
                .report
                .clone()
                .unwrap_or_else(|| super::report::default_out(&experiment.config.name));
            let written = super::report::write_and_summarise(store.folder(), &out);
            match written {
                Err(err) if !summary.failed.is_empty() => {
                    // With cells missing a claim can lack its pairs; the failures matter more.
                    eprintln!("report not written: {err:#}");
                }
                other => other?,
            }
        }
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

/// Refuses to add cells trained on `backend` to a results folder whose cells came from another:
/// their numbers agree, their digits need not, and one table would mix them (a fine-tuning
/// checkpoint of one backend does not even load on another: flex keeps its weights in blocks).
fn refuse_other_backends(store: &ResultsStore, backend: &str) -> Result<()> {
    let records = store.records()?;
    if let Some(other) = records.values().find(|r| r.provenance.backend != backend) {
        bail!(
            "{} holds cells trained on the {} backend ({}, and maybe more); this run is on {backend}. \
             Results of two backends are two experiments: use another --out, or --restart to discard them",
            store.folder().display(),
            other.provenance.backend,
            other.cell_id
        );
    }
    Ok(())
}

/// Records this run's machine and wall time in `run-info/` (one file per run and shard, so shards
/// never share a file); the report's setup reads them. Timings are not part of the results.
fn record_run(
    layout: &Layout,
    label: &str,
    summary: &crate::runner::RunSummary,
    jobs: usize,
    backend: &str,
    device: Option<String>,
    matmul_fingerprint: &str,
) -> Result<()> {
    let finished_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    RunInfo {
        label: label.to_string(),
        finished_unix,
        cpu,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        jobs,
        backend: backend.to_string(),
        device,
        // Fine-tuning: same fingerprint, same bits (see `backend::matmul_fingerprint`).
        matmul_fingerprint: Some(matmul_fingerprint.to_string()),
        cells_trained: summary.trained,
        wall_seconds: summary.wall.as_secs_f64(),
        ablate_version: env!("CARGO_PKG_VERSION").to_string(),
    }
    .save(layout)?;
    Ok(())
}

/// The grid's cells named in `path` (one id per line; blank lines and `#` comments ignored), in grid
/// order. An id that is not a cell of the grid is refused, naming the file and line.
pub fn read_cell_list(path: &Path, grid: &[Cell]) -> Result<Vec<Cell>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the cell list {}", path.display()))?;
    let mut wanted = std::collections::BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        let id = line.trim();
        if id.is_empty() || id.starts_with('#') {
            continue;
        }
        if !grid.iter().any(|c| c.id() == id) {
            bail!(
                "{}:{}: `{id}` is not a cell of this experiment's grid",
                path.display(),
                i + 1
            );
        }
        wanted.insert(id.to_string());
    }
    Ok(grid
        .iter()
        .filter(|c| wanted.contains(&c.id()))
        .copied()
        .collect())
}
