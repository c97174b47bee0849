//! `ablate status`: how far a (sharded) grid has come.

use std::io::Write;
use std::process::ExitCode;

use ablate_results::ResultsStore;
use ablate_spec::shard;
use anyhow::Result;

use crate::cli::StatusArgs;

pub fn status(args: &StatusArgs) -> Result<ExitCode> {
    let (store, _, experiment) = ResultsStore::at(&args.results)?;
    let plan = super::slurm::Plan::load(store.folder())?;
    let shards = args
        .shards
        .or_else(|| plan.as_ref().map(|p| p.tasks))
        .unwrap_or(1)
        .max(1);
    let grid = experiment.cells();
    // After `ablate slurm --missing`, the last array's shards split only its listed cells.
    let listed = match plan.as_ref().and_then(|p| p.cells_file.as_deref()) {
        Some(file) if args.shards.is_none() => Some(super::run::read_cell_list(
            std::path::Path::new(file),
            &grid,
        )?),
        _ => None,
    };
    let cells = listed.clone().unwrap_or_else(|| grid.clone());
    let of = shard::assign(&experiment, &cells, shards);
    let records = store.records()?;
    let failures = store.failures()?;
    let failed = |id: &str| failures.iter().any(|f| f.cell_id == id);

    let mut out = std::io::stdout().lock();
    writeln!(out, "shard  cells  done  failed  missing")?;
    let (mut done_all, mut failed_all, mut missing_ids) = (0, 0, Vec::new());
    for k in 0..shards {
        let mine: Vec<String> = cells
            .iter()
            .zip(&of)
            .filter(|(_, s)| **s == k)
            .map(|(c, _)| c.id())
            .collect();
        let done = mine.iter().filter(|id| records.contains_key(*id)).count();
        let bad = mine
            .iter()
            .filter(|id| !records.contains_key(*id) && failed(id))
            .count();
        missing_ids.extend(
            mine.iter()
                .filter(|id| !records.contains_key(*id) && !failed(id))
                .cloned(),
        );
        let missing = mine.len() - done - bad;
        writeln!(
            out,
            "{k:>5}  {:>5}  {done:>4}  {bad:>6}  {missing:>7}",
            mine.len()
        )?;
        done_all += done;
        failed_all += bad;
    }
    writeln!(
        out,
        "total  {:>5}  {done_all:>4}  {failed_all:>6}  {:>7}",
        cells.len(),
        missing_ids.len()
    )?;
    if listed.is_some() {
        eprintln!(
            "(shards of the last `ablate slurm --missing` array, which lists {} cells)",
            cells.len()
        );
    }
    let grid_done = grid
        .iter()
        .filter(|c| records.contains_key(&c.id()))
        .count();
    eprintln!(
        "{}: {grid_done}/{} cells of the grid done, {} failed, {} missing",
        experiment.config.name,
        grid.len(),
        failures.len(),
        grid.len().saturating_sub(grid_done + failures.len())
    );
    Ok(ExitCode::SUCCESS)
}
