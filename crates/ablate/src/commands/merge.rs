//! `ablate merge`: the tables (and report) of a results folder that shards filled cell by cell.

use std::path::Path;
use std::process::ExitCode;

use ablate_results::layout::CellFileKind;
use ablate_results::{Layout, Manifest, ResultsStore, build_tables, write_atomic};
use anyhow::{Context, Result, bail};

use crate::cli::MergeArgs;

pub fn merge(args: &MergeArgs) -> Result<ExitCode> {
    let (store, manifest, experiment) = ResultsStore::at(&args.results)?;
    // Check every source before copying anything, so a refused merge writes nothing.
    for from in &args.from {
        let other = Manifest::load(from)?;
        if other.config_hash != manifest.config_hash {
            bail!(
                "{}: made by config {}, but {} is config {}; refusing to merge results of different configs",
                from.display(),
                other.config_hash,
                args.results.display(),
                manifest.config_hash
            );
        }
    }
    for from in &args.from {
        copy_cells(from, store.layout())?;
    }
    // `records` refuses (naming the file) any cell written under another config.
    let records = store.records()?;
    let cells = experiment.cells();
    let mut tables = build_tables(&cells, &records).context("building the results tables")?;
    tables.write(store.layout())?;
    let missing: Vec<String> = cells
        .iter()
        .map(|c| c.id())
        .filter(|id| !records.contains_key(id))
        .collect();
    eprintln!(
        "{}: {} of {} cells merged into {}",
        experiment.config.name,
        records.len(),
        cells.len(),
        store.folder().display()
    );
    if !args.no_report && !records.is_empty() {
        let out = args
            .report
            .clone()
            .unwrap_or_else(|| super::report::default_out(&experiment.config.name));
        match super::report::write_and_summarise(store.folder(), &out) {
            Err(err) if !missing.is_empty() => {
                // With cells missing a claim can lack its pairs; listing what is missing matters more.
                eprintln!("report not written: {err:#}");
            }
            other => other?,
        }
    }
    if missing.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("{} cells missing:", missing.len());
    for id in missing.iter().take(20) {
        eprintln!("  {id}");
    }
    if missing.len() > 20 {
        eprintln!("  ... and {} more", missing.len() - 20);
    }
    let source = manifest.source.as_deref().unwrap_or("EXPERIMENT.toml");
    let root = store
        .folder()
        .parent()
        .map_or_else(|| ".".into(), |p| p.display().to_string());
    eprintln!(
        "run them with `ablate run {source} --out {root}` (one machine) or \
         `ablate slurm {source} --out {root} --missing --tasks N --submit` (cluster)"
    );
    Ok(ExitCode::from(2))
}

/// Copies the finished cell files of `from` that `to` lacks.
fn copy_cells(from: &Path, to: &Layout) -> Result<()> {
    let mut copied = 0;
    for (path, kind) in Layout::new(from).cell_files()? {
        if kind != CellFileKind::Record {
            continue;
        }
        let Some(name) = path.file_name() else {
            continue;
        };
        let target = to.cells_dir().join(name);
        if target.exists() {
            continue;
        }
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        write_atomic(&target, &bytes)?;
        copied += 1;
    }
    eprintln!("{}: {copied} cells copied", from.display());
    Ok(())
}
