//! `ablate report`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ablate_results::Manifest;
use anyhow::{Context, Result};

use crate::cli::ReportArgs;

/// `report/<name>/`, beside `results/<name>/`.
pub fn default_out(name: &str) -> PathBuf {
    Path::new("report").join(name)
}

pub fn report(args: &ReportArgs) -> Result<ExitCode> {
    let out = match &args.out {
        Some(out) => out.clone(),
        None => default_out(&Manifest::load(&args.results)?.name),
    };
    write_and_summarise(&args.results, &out)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the report and prints one line per claim.
pub fn write_and_summarise(results: &Path, out: &Path) -> Result<()> {
    let written = ablate_report::write_report(results, out)
        .with_context(|| format!("writing the report of {}", results.display()))?;
    if written.on_val {
        eprintln!(
            "report: WARNING: the features have no test split; every accuracy, tuned choices and test claims included, is on the validation split"
        );
    }
    for (id, summary) in &written.claims {
        eprintln!("claim {id}: {summary}");
    }
    eprintln!("report: {}", written.folder.join("REPORT.md").display());
    Ok(())
}
