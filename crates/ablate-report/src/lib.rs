//! The comparison report of an `ablate` results folder: per-variant tables, paired contrasts with
//! confidence intervals, a verdict per claim and training size, plots, `REPORT.md` and `report.html`.
//!
//! Data path: `tables` (read runs/epochs, per-variant summary) -> `contrast` (paired differences,
//! claims) -> `stats` (intervals, verdict rule) -> `figures` + `plots` (PNG/SVG) -> `report`
//! (CSV, Markdown) -> `html`.

mod contrast;
mod error;
mod figures;
mod html;
mod plots;
mod report;
mod stats;
mod tables;

pub use contrast::{ClaimResult, ClaimRow, judge_claim, parse_variant};
pub use error::ReportError;
pub use report::{FIGURES, Written, write_report};
pub use stats::{Interval, Verdict, t_interval};
pub use tables::{Results, VariantRow, variant_summary};
