//! `ablate grid`: the cells an experiment would run, one per line.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use ablate_spec::Experiment;
use anyhow::Result;

pub fn grid(path: &Path) -> Result<ExitCode> {
    let experiment = Experiment::load(path)?;
    let cells = experiment.cells();
    let mut out = std::io::stdout().lock();
    for cell in &cells {
        writeln!(out, "{}", cell.id())?;
    }
    let count =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let grid = &experiment.config.grid;
    let train = &experiment.config.train;
    let runs = ablate_spec::epoch_prefix_group_indices(&cells, train).len();
    let stacks = ablate_spec::stack_group_indices(&cells, train);
    let stacked = stacks.iter().filter(|s| s.len() > 1).count();
    let largest = stacks.iter().map(Vec::len).max().unwrap_or(0);
    eprintln!(
        "{}: {} ({} x {} x {}), config {}; {} (cells that differ in epochs alone share one), \
         {stacked} of them stacks of up to {largest} runs (one seed, size and layer list)",
        experiment.config.name,
        count(cells.len(), "cell", "cells"),
        count(
            experiment.head_variants().len(),
            "head variant",
            "head variants"
        ),
        count(
            grid.train_per_class.len(),
            "training size",
            "training sizes"
        ),
        count(grid.seeds.len(), "seed", "seeds"),
        experiment.config_hash(),
        count(runs, "training run", "training runs"),
    );
    Ok(ExitCode::SUCCESS)
}
