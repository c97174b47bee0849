//! Writing the report of a results folder: tables (CSV), figures (PNG + SVG), REPORT.md and
//! report.html, each file atomically.

use std::path::{Path, PathBuf};

use ablate_results::{Layout, RunInfo, write_atomic};
use polars::prelude::*;

use crate::analysis::{Analysis, analyse};
use crate::choose::Tuned;
use crate::contrast::ClaimResult;
use crate::error::ReportError;
use crate::figure_table::{Inputs, write_figures};
use crate::markdown;
use crate::markdown::format::verdict_label;
use crate::per_class::confusion_frame;
use crate::results::Results;
use crate::stats::Direction;
use ablate_spec::Metric;

/// What `write_report` produced, for the caller's one-line summary.
#[derive(Debug)]
pub struct Written {
    pub folder: PathBuf,
    pub claims: Vec<(String, String)>,
    /// The results have no test split: every accuracy is on val.
    pub on_val: bool,
}

/// Reads a results folder and writes the full report into `out`.
pub fn write_report(results_dir: &Path, out: &Path) -> Result<Written, ReportError> {
    let results = Results::load(results_dir)?;
    std::fs::create_dir_all(out).map_err(ReportError::io(out))?;
    let analysis = analyse(&results)?;
    let Analysis {
        claims,
        dropout,
        has_test,
        tuned,
        ..
    } = &analysis;

    write_csv(out, "variants.csv", &mut analysis.summary.clone())?;
    write_csv(out, "claims.csv", &mut claims_frame(claims)?)?;
    write_csv(out, "tuned.csv", &mut tuned_frame(tuned)?)?;
    if !analysis.confusions.is_empty() {
        let mut frame = confusion_frame(&analysis.confusions, results.class_names())
            .map_err(ReportError::table("the confusion matrices"))?;
        write_csv(out, "confusion.csv", &mut frame)?;
    }
    if !analysis.seed_splits.is_empty() {
        write_csv(
            out,
            "seed_split.csv",
            &mut seed_split_frame(&analysis.seed_splits)?,
        )?;
    }
    let contrasts: Vec<String> = claims
        .iter()
        .chain(dropout)
        .map(|c| format!("contrast-{}.csv", c.claim.id))
        .collect();
    for (c, name) in claims.iter().chain(dropout).zip(&contrasts) {
        write_csv(out, name, &mut pairs_csv(c)?)?;
    }

    let figures = write_figures(out, &Inputs::of(&results, &analysis))?;
    remove_stale(out, &contrasts)?;

    let context = markdown::Context {
        machines: run_info(results_dir)?,
        figures,
    };
    let sections = markdown::render_sections(&results, &analysis, &context)?;
    let (first, details) = markdown::split_pages(&sections);
    write_atomic(&out.join("REPORT.md"), first.as_bytes())?;
    write_atomic(&out.join(markdown::DETAILS_FILE), details.as_bytes())?;
    let html = crate::html::render_sections(&sections, out)?;
    write_atomic(&out.join("report.html"), html.as_bytes())?;

    Ok(Written {
        folder: out.to_owned(),
        on_val: !has_test,
        claims: claims
            .iter()
            .map(|c| (c.claim.id.clone(), c.summary()))
            .collect(),
    })
}

/// Removes the tables an earlier report into `out` wrote and this one does not (a claim since
/// renamed), so the folder never mixes two reports (figures with nothing to show are removed where
/// they are drawn). Only files this writer makes are touched.
fn remove_stale(out: &Path, contrasts: &[String]) -> Result<(), ReportError> {
    let entries = std::fs::read_dir(out).map_err(ReportError::io(out))?;
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let stale_contrast =
            name.starts_with("contrast-") && name.ends_with(".csv") && !contrasts.contains(&name);
        if stale_contrast {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(ReportError::io(&path))?;
        }
    }
    Ok(())
}

fn write_csv(out: &Path, name: &str, frame: &mut DataFrame) -> Result<(), ReportError> {
    let mut bytes = Vec::new();
    CsvWriter::new(&mut bytes)
        .finish(frame)
        .map_err(ReportError::table("writing a report table"))?;
    write_atomic(&out.join(name), &bytes)?;
    Ok(())
}

/// The units a claim's differences are written in: percentage points for accuracies (as the
/// Markdown prints them), the metric's own units otherwise.
fn units(metric: Metric) -> (&'static str, f64) {
    if metric.is_accuracy() {
        ("pp", 100.0)
    } else if metric == Metric::Params {
        ("parameters", 1.0)
    } else if metric.is_loss() {
        ("loss", 1.0)
    } else {
        ("ratio", 1.0)
    }
}

/// A value for a CSV cell: `None` (empty) where it is not finite, so no reader meets `inf`.
fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// The verdict table, one row per claim and training size, as numbers (the Markdown shows them
/// rounded), in the units the report prints (`units`). `ci_lo`/`ci_hi` are the interval the
/// verdict read (simultaneous over the claim's sizes, at `ci_level`); `ci95_lo`/`ci95_hi` the
/// plain 95% interval of the row alone. `verdict_words` is the wording every page uses.
fn claims_frame(claims: &[ClaimResult]) -> Result<DataFrame, ReportError> {
    let rows: Vec<(&ClaimResult, &crate::contrast::ClaimRow)> = claims
        .iter()
        .flat_map(|c| c.rows.iter().map(move |r| (c, r)))
        .collect();
    let scaled = |f: &dyn Fn(&crate::contrast::ClaimRow) -> Option<f64>| {
        rows.iter()
            .map(|(c, r)| f(r).and_then(|x| finite(x * units(c.claim.metric).1)))
            .collect::<Vec<_>>()
    };
    df!(
        "claim" => rows.iter().map(|(c, _)| c.claim.id.clone()).collect::<Vec<_>>(),
        "metric" => rows.iter().map(|(c, _)| c.claim.metric.column().to_string()).collect::<Vec<_>>(),
        "units" => rows.iter().map(|(c, _)| units(c.claim.metric).0).collect::<Vec<_>>(),
        "train_per_class" => rows.iter().map(|(_, r)| r.train_per_class).collect::<Vec<_>>(),
        "seeds" => rows.iter().map(|(_, r)| r.diff.n as u64).collect::<Vec<_>>(),
        "diff_mean" => scaled(&|r| Some(r.diff.mean)),
        "ci_lo" => scaled(&|r| Some(r.adjusted.lo())),
        "ci_hi" => scaled(&|r| Some(r.adjusted.hi())),
        "ci_level" => rows.iter().map(|(c, _)| crate::stats::family_level(c.rows.len())).collect::<Vec<_>>(),
        "ci95_lo" => scaled(&|r| Some(r.diff.lo())),
        "ci95_hi" => scaled(&|r| Some(r.diff.hi())),
        "direction" => rows.iter().map(|(c, r)| Direction::of(&r.adjusted, c.claim.expect).map(|d| d.as_str())).collect::<Vec<_>>(),
        "verdict" => rows.iter().map(|(_, r)| r.verdict.as_str().to_string()).collect::<Vec<_>>(),
        "test_images" => rows.iter().map(|(_, r)| r.test_images.map(|n| n as u64)).collect::<Vec<_>>(),
        "image_half_95" => scaled(&|r| r.image_half),
        "detectable_80" => scaled(&|r| r.detectable),
        "seeds_for_detectable_1pp" => rows.iter().map(|(_, r)| r.seeds_for_detectable.map(|n| n as u64)).collect::<Vec<_>>(),
        "seeds_on_claims_side" => rows.iter().map(|(_, r)| r.agree as u64).collect::<Vec<_>>(),
        "seeds_tied" => rows.iter().map(|(_, r)| r.ties as u64).collect::<Vec<_>>(),
        "p_value" => rows.iter().map(|(_, r)| finite(r.p_value)).collect::<Vec<_>>(),
        "p_sign_flip" => rows.iter().map(|(_, r)| finite(r.p_flip)).collect::<Vec<_>>(),
        "p_adjusted" => rows.iter().map(|(_, r)| finite(r.p_adjusted)).collect::<Vec<_>>(),
        "p_holm" => rows.iter().map(|(_, r)| r.p_holm.and_then(finite)).collect::<Vec<_>>(),
        "rope" => rows.iter().map(|(c, _)| c.claim.rope * units(c.claim.metric).1).collect::<Vec<_>>(),
        "verdict_half_rope" => rows.iter().map(|(_, r)| r.sensitivity.map(|s| s.half_margin.as_str().to_string())).collect::<Vec<_>>(),
        "verdict_twice_rope" => rows.iter().map(|(_, r)| r.sensitivity.map(|s| s.twice_margin.as_str().to_string())).collect::<Vec<_>>(),
        "seeds_needed" => rows.iter().map(|(_, r)| r.seeds_needed.map(|n| n as u64)).collect::<Vec<_>>(),
        "max_train_loss_gap" => rows.iter().map(|(_, r)| r.exactness.map(|e| e.loss_gap)).collect::<Vec<_>>(),
        "max_bias_grad" => rows.iter().map(|(_, r)| r.exactness.map(|e| e.bias_grad)).collect::<Vec<_>>(),
        "opponent" => rows.iter().map(|(_, r)| r.opponent.clone()).collect::<Vec<_>>(),
        "chosen" => rows.iter().map(|(_, r)| r.chosen.clone()).collect::<Vec<_>>(),
        "not_measured_because" => rows.iter().map(|(_, r)| r.degenerate.map(|d| d.words().to_string())).collect::<Vec<_>>(),
        // Last: words with commas, quoted, after every column a naive reader splits on.
        "verdict_words" => rows.iter().map(|(c, r)| verdict_label(&c.claim, r)).collect::<Vec<_>>(),
    )
    .map_err(ReportError::table("building the verdict table"))
}

/// A claim's per-pair table for its CSV: differences in the report's units (`units`), and an
/// interval end that does not exist (a pair seen at one seed) empty rather than `inf`.
fn pairs_csv(c: &ClaimResult) -> Result<DataFrame, ReportError> {
    let (name, scale) = units(c.claim.metric);
    let mut frame = c.pairs.clone();
    for column in ["diff_mean", "diff_sd", "diff_ci_lo", "diff_ci_hi"] {
        let values: Vec<Option<f64>> = crate::frame::f64s(&frame, column)?
            .into_iter()
            .map(|x| finite(x * scale))
            .collect();
        frame
            .with_column(Column::new(column.into(), values))
            .map_err(ReportError::table("writing a claim's pairs"))?;
    }
    frame
        .with_column(Column::new("units".into(), vec![name; frame.height()]))
        .map_err(ReportError::table("writing a claim's pairs"))?;
    Ok(frame)
}

/// The seed split, one row per measured claim and size, in the claim's units (pp for accuracies).
fn seed_split_frame(splits: &[crate::seed_split::SeedSplit]) -> Result<DataFrame, ReportError> {
    let rows: Vec<(&str, &crate::seed_split::SplitRow)> = splits
        .iter()
        .flat_map(|s| s.rows.iter().map(move |r| (s.claim.as_str(), r)))
        .collect();
    let pp = |f: fn(&crate::seed_split::SplitRow) -> f64| {
        rows.iter().map(|(_, r)| 100.0 * f(r)).collect::<Vec<f64>>()
    };
    df!(
        "claim" => rows.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
        "train_per_class" => rows.iter().map(|(_, r)| r.train_per_class).collect::<Vec<_>>(),
        "seeds" => rows.iter().map(|(_, r)| r.seeds as u64).collect::<Vec<_>>(),
        "units" => rows.iter().map(|_| "pp").collect::<Vec<_>>(),
        "sd_all" => pp(|r| r.sd_all),
        "sd_subset_held" => pp(|r| r.sd_subset_held),
        "sd_init_order_held" => pp(|r| r.sd_init_held),
        "subset_share" => rows.iter().map(|(_, r)| r.subset_share).collect::<Vec<_>>(),
        "pool_fraction" => rows.iter().map(|(_, r)| r.pool_fraction).collect::<Vec<_>>(),
        "fresh_widening" => rows.iter().map(|(_, r)| r.widen).collect::<Vec<_>>(),
    )
    .map_err(ReportError::table("building the seed split table"))
}

fn tuned_frame(tuned: &[Tuned]) -> Result<DataFrame, ReportError> {
    let test = |f: fn(&crate::stats::Interval) -> f64| {
        tuned
            .iter()
            .map(|t| t.row.test.as_ref().map(f))
            .collect::<Vec<Option<f64>>>()
    };
    df!(
        "head" => tuned.iter().map(|t| t.head.as_str()).collect::<Vec<_>>(),
        "train_per_class" => tuned.iter().map(|t| t.row.train_per_class).collect::<Vec<_>>(),
        "variant" => tuned.iter().map(|t| t.row.variant.clone()).collect::<Vec<_>>(),
        "chosen" => tuned.iter().map(|t| t.chosen.clone()).collect::<Vec<_>>(),
        "cells" => tuned.iter().map(|t| t.row.val.n as u64).collect::<Vec<_>>(),
        "protocol" => tuned.iter().map(|_| "chosen on every seed's val").collect::<Vec<_>>(),
        "val_acc_mean" => tuned.iter().map(|t| t.row.val.mean).collect::<Vec<_>>(),
        "test_acc_mean" => test(|i| i.mean),
        "test_acc_ci_lo" => test(crate::stats::Interval::lo),
        "test_acc_ci_hi" => test(crate::stats::Interval::hi),
        "train_acc_mean" => tuned.iter().map(|t| t.row.train.mean).collect::<Vec<_>>(),
        // The answer's number: each seed scored with the choice made on the other seeds.
        "loso_acc_mean" => tuned.iter().map(|t| t.loso).collect::<Vec<_>>(),
        "params" => tuned.iter().map(|t| t.row.params).collect::<Vec<_>>(),
    )
    .map_err(ReportError::table("building the tuned table"))
}

/// The runs recorded in `run-info/` by `ablate run`: one line on the machines and wall time. A
/// run-info file that cannot be read is an error naming it, not a silently shorter line.
fn run_info(results_dir: &Path) -> Result<Option<String>, ReportError> {
    let runs = RunInfo::load_all(&Layout::new(results_dir))?;
    if runs.is_empty() {
        return Ok(None);
    }
    let mut machines: Vec<String> = runs
        .iter()
        .map(|r| match &r.device {
            Some(device) => format!(
                "{} on {device} (host {}, {} cells at once)",
                r.backend, r.cpu, r.jobs
            ),
            None => format!("{} ({} cores, {} cells at once)", r.cpu, r.cores, r.jobs),
        })
        .collect();
    machines.sort();
    machines.dedup();
    let wall: f64 = runs.iter().map(|r| r.wall_seconds).sum();
    Ok(Some(format!(
        "{} in {} run(s) of `ablate run`, {:.1} min wall in total",
        machines.join("; "),
        runs.len(),
        wall / 60.0
    )))
}
