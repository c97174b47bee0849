//! REPORT.md, one module per section: the title, the answer (first, in plain words), the
//! question, setup and provenance, verdicts, tuned heads, what to use, evidence, per-variant table. Prose that belongs to one experiment comes
//! from its `[report]` table and its claims; the rest is neutral, so another dataset reads right.

mod advice;
mod answer;
mod evidence;
pub(crate) mod format;
mod header;
mod seed_split;
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

/// The sections of the first page (REPORT.md, and what report.html shows open): the title, the
/// answer, the question and where the numbers come from. The rest (setup, rules, tables,
/// evidence) is in DETAILS.md, and one click away in report.html.
pub const FIRST_PAGE: [&str; 4] = ["title", "answer", "question", "provenance"];

/// The file the other sections go to.
pub const DETAILS_FILE: &str = "DETAILS.md";

/// REPORT.md and DETAILS.md from the sections: the first page's links to anchors in the details
/// point into DETAILS.md, and each file links to the other.
pub fn split_pages(sections: &[(&str, String)]) -> (String, String) {
    let mut first = String::new();
    let mut details = String::new();
    for (name, md) in sections {
        if FIRST_PAGE.contains(name) {
            first.push_str(&md.replace("](#", &format!("]({DETAILS_FILE}#")));
        } else {
            details.push_str(md);
        }
    }
    first.push_str(&format!(
        "\n---\n\nThe setup, the rules, every claim's numbers and evidence and the per-variant table: [{DETAILS_FILE}]({DETAILS_FILE}).\n"
    ));
    let title = sections
        .iter()
        .find(|(n, _)| *n == "title")
        .and_then(|(_, md)| md.lines().next())
        .and_then(|l| l.strip_prefix("# "))
        .unwrap_or("the report");
    let details = format!(
        "# Details: {title}\n\nThe answer and the question are in [REPORT.md](REPORT.md); here is everything behind them.\n\n{details}"
    );
    (first, details)
}

/// Writes one section of REPORT.md.
type Section = fn(&mut String, &Results, &Analysis, &Context) -> Result<(), ReportError>;

/// The report's sections, in order: a name (for tests and snapshots) and the writer. A new section
/// is one module plus one row.
const SECTIONS: [(&str, Section); 10] = [
    ("title", |w, r, a, _| {
        header::title(w, r, a);
        Ok(())
    }),
    ("answer", |w, r, a, c| {
        answer::write(w, r, a, c);
        Ok(())
    }),
    ("question", |w, r, _, _| {
        header::question(w, r);
        Ok(())
    }),
    ("setup", |w, r, _, c| setup::write(w, r, c)),
    ("provenance", |w, r, _, _| header::provenance(w, r)),
    ("verdicts", |w, r, a, _| {
        verdicts::write(w, r, a);
        Ok(())
    }),
    ("tuned", |w, r, a, _| {
        tuned::write(w, r, a);
        Ok(())
    }),
    ("advice", |w, r, a, _| {
        advice::write(w, r, a);
        Ok(())
    }),
    ("evidence", |w, _, a, c| evidence::write(w, a, c)),
    ("variants", |w, _, a, _| {
        variants::write(w, a);
        Ok(())
    }),
];

/// Each section's Markdown, by name, in order.
pub(crate) fn render_sections(
    results: &Results,
    analysis: &Analysis,
    context: &Context,
) -> Result<Vec<(&'static str, String)>, ReportError> {
    SECTIONS
        .iter()
        .map(|(name, section)| {
            let mut md = String::new();
            section(&mut md, results, analysis, context)?;
            Ok((*name, md))
        })
        .collect()
}

/// The whole report, in section order.
pub fn render(
    results: &Results,
    analysis: &Analysis,
    context: &Context,
) -> Result<String, ReportError> {
    Ok(render_sections(results, analysis, context)?
        .into_iter()
        .map(|(_, md)| md)
        .collect())
}

#[cfg(test)]
mod tests;
