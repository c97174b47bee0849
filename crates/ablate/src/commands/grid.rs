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
    eprintln!(
        "{}: {} cells ({} head variants x {} training sizes x {} seeds), config {}",
        experiment.config.name,
        cells.len(),
        experiment.head_variants().len(),
        experiment.config.grid.train_per_class.len(),
        experiment.config.grid.seeds.len(),
        experiment.config_hash()
    );
    Ok(ExitCode::SUCCESS)
}
