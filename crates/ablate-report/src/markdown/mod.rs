//! REPORT.md, one module per section: the title, the answer (first, in plain words), the
//! question, setup and provenance, verdicts, tuned heads, what to use, evidence, per-variant table. Prose that belongs to one experiment comes
//! from its `[report]` table and its claims; the rest is neutral, so another dataset reads right.

mod advice;
mod answer;
mod evidence;
mod format;
mod header;
mod setup;
mod tuned;
mod variants;
mod verdicts;

use crate::analysis::Analysis;
use crate::error::ReportError;
use crate::results::Results;

/// What the Markdown needs besides the results and their analysis.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// One line on the machines and wall time of the runs (`run-info/`), if recorded.
    pub machines: Option<String>,
    /// The stems of the figures drawn ([`crate::figure_table::FIGURES`]); a figure with nothing
    /// to show (no BN ratio: no variance shift) is not.
    pub figures: Vec<&'static str>,
}

/// The whole report, in section order.
pub fn render(
    results: &Results,
    analysis: &Analysis,
    context: &Context,
) -> Result<String, ReportError> {
    let mut md = String::new();
    header::title(&mut md, results, analysis);
    answer::write(&mut md, results, analysis);
    header::question(&mut md, results);
    setup::write(&mut md, results, context)?;
    header::provenance(&mut md, results)?;
    verdicts::write(&mut md, results, analysis);
    tuned::write(&mut md, results, analysis);
    advice::write(&mut md, analysis);
    evidence::write(&mut md, analysis, context)?;
    variants::write(&mut md, analysis);
    Ok(md)
}

#[cfg(test)]
mod tests;
