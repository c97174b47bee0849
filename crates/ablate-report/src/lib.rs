//! The comparison report of an `ablate` results folder: per-variant tables, paired contrasts with
//! confidence intervals, a verdict per claim and training size, plots, `REPORT.md` and `report.html`.
//!
//! Data path: `results` (the typed experiment and the runs/epochs tables) -> `summary` (per
//! variant) -> `contrast` + `stats` (paired differences, intervals, verdicts) -> `choose` (tuned
//! heads, what to use) -> `analysis` (all of it, once) -> `figures` + `plots` (PNG/SVG) and
//! `markdown` (one module per section) -> `write` (CSV, REPORT.md, report.html).
//!
//! ```no_run
//! let written = ablate_report::write_report("results/forum".as_ref(), "report/forum".as_ref()).unwrap();
//! for (claim, verdict) in &written.claims {
//!     println!("{claim}: {verdict}");
//! }
//! ```

mod analysis;
mod budget;
mod choose;
mod contrast;
mod error;
mod figure_table;
mod figures;
mod frame;
mod heatmap;
mod html;
mod interactions;
mod markdown;
mod per_class;
mod plots;
mod regimes;
mod results;
mod seed_split;
mod spread;
mod stats;
mod summary;
#[cfg(test)]
mod testing;
mod write;

pub use analysis::{Analysis, analyse};
pub use contrast::{ClaimResult, ClaimRow, judge_claim};
pub use error::ReportError;
pub use figure_table::{FIGURES, FigureSpec};
pub use interactions::Strata;
pub use markdown::{Context, render as render_markdown};
pub use results::Results;
pub use stats::{Interval, Verdict, t_interval};
pub use summary::{VariantRow, variant_summary};
pub use write::{Written, write_report};
