//! Putting the report together: tables (CSV), figures (PNG + SVG), REPORT.md and report.html.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use ablate_results::{Manifest, write_atomic};
use ablate_spec::{Claim, Compare, Expect, HeadKind, Metric, Selector};
use polars::prelude::*;

use crate::contrast::{ClaimResult, judge_claim, parse_variant};
use crate::error::ReportError;
use crate::figures;
use crate::plots::render;
use crate::stats::Verdict;
use crate::tables::{Results, VariantRow, f64s, strings, variant_summary};

/// What `write_report` produced, for the caller's one-line summary.
#[derive(Debug)]
pub struct Written {
    pub folder: PathBuf,
    pub claims: Vec<(String, String)>,
    /// The results have no test split: every accuracy is on val.
    pub on_val: bool,
}

/// The figure files (stems), in the order the report shows them.
pub const FIGURES: [&str; 5] = [
    "val_acc_by_epoch",
    "final_accuracy",
    "val_acc_by_size",
    "bias_grad_by_epoch",
    "variance_shift",
];

/// Reads a results folder and writes the full report into `out`.
pub fn write_report(results_dir: &Path, out: &Path) -> Result<Written, ReportError> {
    let manifest = Manifest::load(results_dir)?;
    let results = Results::load(results_dir)?;
    std::fs::create_dir_all(out).map_err(ReportError::io(out))?;

    let (summary_frame, rows) = variant_summary(&results)?;
    let order = results.variants()?;
    let sizes = results.sizes()?;

    // Without a test split every test metric falls back to val, and the report says so loudly.
    let has_test = results.has_test();
    let mut claims: Vec<ClaimResult> = manifest
        .claims
        .iter()
        .map(|c| {
            let claim = if has_test {
                c.clone()
            } else {
                Claim {
                    metric: c.metric.on_val(),
                    ..c.clone()
                }
            };
            judge_claim(&results, &claim)
        })
        .collect::<Result<_, _>>()?;
    crate::contrast::apply_holm(&mut claims);
    let dropout = dropout_contrasts(&results, &order, has_test)?;
    let picks = recommendations(&results, &rows, &sizes)?;
    let tuned = tuned_rows(&rows)?;

    write_csv(out, "variants.csv", &mut summary_frame.clone())?;
    write_csv(out, "claims.csv", &mut claims_frame(&claims)?)?;
    write_csv(out, "tuned.csv", &mut tuned_frame(&tuned)?)?;
    let contrasts: Vec<String> = claims
        .iter()
        .chain(&dropout)
        .map(|c| format!("contrast-{}.csv", c.claim.id))
        .collect();
    for (c, name) in claims.iter().chain(&dropout).zip(&contrasts) {
        write_csv(out, name, &mut c.pairs.clone())?;
    }

    render(out, FIGURES[0], &figures::val_acc_by_epoch(&results)?)?;
    render(
        out,
        FIGURES[1],
        &figures::final_accuracy(&rows, &order, &sizes),
    )?;
    render(out, FIGURES[2], &figures::val_acc_by_size(&rows, &order))?;
    render(out, FIGURES[3], &figures::bias_grad_by_epoch(&results)?)?;
    let variance = figures::variance_shift(&rows, &order, &sizes, has_test);
    if let Some(figure) = &variance {
        render(out, FIGURES[4], figure)?;
    }

    let machines = run_info(results_dir);
    remove_stale(out, &contrasts, variance.is_some())?;

    let markdown = markdown(&Sections {
        manifest: &manifest,
        results: &results,
        rows: &rows,
        claims: &claims,
        dropout: &dropout,
        picks: &picks,
        tuned: &tuned,
        machines: &machines,
        variance_figure: variance.is_some(),
        has_test,
    })?;
    write_atomic(&out.join("REPORT.md"), markdown.as_bytes())?;
    let html = crate::html::render(&markdown, out)?;
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

/// Removes what an earlier report into `out` wrote and this one does not (the table of a claim since
/// renamed, a figure with nothing to show), so the folder never mixes two reports. Only files this
/// writer makes are touched.
fn remove_stale(out: &Path, contrasts: &[String], variance: bool) -> Result<(), ReportError> {
    let entries = std::fs::read_dir(out).map_err(ReportError::io(out))?;
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let stale_contrast =
            name.starts_with("contrast-") && name.ends_with(".csv") && !contrasts.contains(&name);
        let stale_figure = !variance
            && (name == format!("{}.png", FIGURES[4]) || name == format!("{}.svg", FIGURES[4]));
        if stale_contrast || stale_figure {
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

/// The verdict table, one row per claim and training size, as numbers (the Markdown shows them rounded).
fn claims_frame(claims: &[ClaimResult]) -> Result<DataFrame, ReportError> {
    let rows: Vec<(&ClaimResult, &crate::contrast::ClaimRow)> = claims
        .iter()
        .flat_map(|c| c.rows.iter().map(move |r| (c, r)))
        .collect();
    df!(
        "claim" => rows.iter().map(|(c, _)| c.claim.id.clone()).collect::<Vec<_>>(),
        "metric" => rows.iter().map(|(c, _)| c.claim.metric.column().to_string()).collect::<Vec<_>>(),
        "train_per_class" => rows.iter().map(|(_, r)| r.train_per_class).collect::<Vec<_>>(),
        "seeds" => rows.iter().map(|(_, r)| r.diff.n as u64).collect::<Vec<_>>(),
        "diff_mean" => rows.iter().map(|(_, r)| r.diff.mean).collect::<Vec<_>>(),
        "diff_ci_lo" => rows.iter().map(|(_, r)| r.diff.lo()).collect::<Vec<_>>(),
        "diff_ci_hi" => rows.iter().map(|(_, r)| r.diff.hi()).collect::<Vec<_>>(),
        "seeds_agreeing" => rows.iter().map(|(_, r)| r.agree as u64).collect::<Vec<_>>(),
        "p_t" => rows.iter().map(|(_, r)| r.p_t).collect::<Vec<_>>(),
        "p_sign_flip" => rows.iter().map(|(_, r)| r.p_flip).collect::<Vec<_>>(),
        "p_holm" => rows.iter().map(|(_, r)| r.p_holm).collect::<Vec<_>>(),
        "p_a_better" => rows.iter().map(|(_, r)| r.p_improvement).collect::<Vec<_>>(),
        "rope" => rows.iter().map(|(c, _)| c.claim.rope).collect::<Vec<_>>(),
        "seeds_needed" => rows.iter().map(|(_, r)| r.seeds_needed.map(|n| n as u64)).collect::<Vec<_>>(),
        "max_train_loss_gap" => rows.iter().map(|(_, r)| r.exactness.map(|e| e.0)).collect::<Vec<_>>(),
        "max_bias_grad" => rows.iter().map(|(_, r)| r.exactness.map(|e| e.1)).collect::<Vec<_>>(),
        "opponent" => rows.iter().map(|(_, r)| r.opponent.clone()).collect::<Vec<_>>(),
        "chosen" => rows.iter().map(|(_, r)| r.chosen.clone()).collect::<Vec<_>>(),
        "verdict" => rows.iter().map(|(_, r)| r.verdict.as_str().to_string()).collect::<Vec<_>>(),
    )
    .map_err(ReportError::table("building the verdict table"))
}

/// Dropout p - 0 for every p > 0 of the grid, on test when there is a test split (not a claim of the
/// thread; shown for context).
fn dropout_contrasts(
    results: &Results,
    order: &[String],
    has_test: bool,
) -> Result<Vec<ClaimResult>, ReportError> {
    let mut rates: Vec<f64> = order
        .iter()
        .filter_map(|n| parse_variant(n))
        .filter(|v| v.kind() == HeadKind::Mlp)
        .map(|v| v.dropout())
        .collect();
    rates.sort_by(f64::total_cmp);
    rates.dedup();
    if !rates.contains(&0.0) {
        return Ok(Vec::new());
    }
    rates
        .iter()
        .filter(|p| **p > 0.0)
        .map(|p| {
            let mlp_with = |rate| Selector {
                head: Some(HeadKind::Mlp),
                dropout: Some(rate),
                ..Default::default()
            };
            let claim = Claim::contrast(
                format!("dropout{p}"),
                format!("dropout {p} instead of none (not a claim of the thread)"),
                if has_test {
                    Metric::TestAcc
                } else {
                    Metric::ValAcc
                },
                mlp_with(*p),
                mlp_with(0.0),
                Expect::Higher,
            );
            judge_claim(results, &claim)
        })
        .collect()
}

/// What to use at one training size, derived from the numbers.
#[derive(Debug, Clone)]
pub struct Pick {
    pub train_per_class: u64,
    pub best: VariantRow,
    /// Variants whose paired difference to `best` has a 95% CI that contains 0.
    pub tied: Vec<VariantRow>,
    /// The smallest (fewest parameters) of `best` and `tied`.
    pub smallest: VariantRow,
}

/// Per size: the best mean val accuracy, the variants statistically tied with it (paired t interval
/// of the per-seed difference contains 0), and the smallest of those.
fn recommendations(
    results: &Results,
    rows: &[VariantRow],
    sizes: &[u64],
) -> Result<Vec<Pick>, ReportError> {
    let mut picks = Vec::new();
    for &size in sizes {
        let at: Vec<&VariantRow> = rows.iter().filter(|r| r.train_per_class == size).collect();
        let Some(best) = at
            .iter()
            .copied()
            .max_by(|a, b| a.val.mean.total_cmp(&b.val.mean))
        else {
            continue;
        };
        let best_variant = parse_variant(&best.variant).ok_or_else(|| ReportError::Input {
            path: "runs".into(),
            message: format!("unknown variant {}", best.variant),
        })?;
        let mut tied = Vec::new();
        for row in at.iter().filter(|r| r.variant != best.variant) {
            let Some(variant) = parse_variant(&row.variant) else {
                continue;
            };
            let claim = Claim {
                train_per_class: Some(vec![size as usize]),
                ..Claim::contrast(
                    "tie",
                    "",
                    Metric::ValAcc,
                    Selector::exactly(&variant),
                    Selector::exactly(&best_variant),
                    Expect::Lower,
                )
            };
            let judged = judge_claim(results, &claim)?;
            if judged.rows.iter().all(|r| r.verdict != Verdict::Supported) {
                tied.push((*row).clone());
            }
        }
        let smallest = std::iter::once(best)
            .chain(tied.iter())
            .min_by_key(|r| r.params)
            .cloned()
            .expect("best is always a candidate");
        picks.push(Pick {
            train_per_class: size,
            best: best.clone(),
            tied,
            smallest,
        });
    }
    Ok(picks)
}

/// The selection protocol's result for one head family at one size: the variant of best mean
/// validation accuracy (its hyperparameters, chosen on val), reported with its test accuracy.
#[derive(Debug, Clone)]
pub struct Tuned {
    pub head: String,
    pub row: VariantRow,
    /// The chosen values, as `key=value` (every switch the head has).
    pub chosen: String,
}

/// Per size, per head family (in grid order): the tuned row. Ties go to the grid's first variant.
fn tuned_rows(rows: &[VariantRow]) -> Result<Vec<Tuned>, ReportError> {
    let mut tuned: Vec<Tuned> = Vec::new();
    for row in rows {
        let variant = parse_variant(&row.variant).ok_or_else(|| ReportError::Input {
            path: "runs".into(),
            message: format!("unknown variant {}", row.variant),
        })?;
        let candidate = Tuned {
            head: row.head.clone(),
            row: row.clone(),
            chosen: Selector::exactly(&variant).describe(),
        };
        match tuned
            .iter_mut()
            .find(|t| t.head == row.head && t.row.train_per_class == row.train_per_class)
        {
            Some(t) if row.val.mean > t.row.val.mean => *t = candidate,
            Some(_) => {}
            None => tuned.push(candidate),
        }
    }
    Ok(tuned)
}

fn tuned_frame(tuned: &[Tuned]) -> Result<DataFrame, ReportError> {
    let test = |f: fn(&crate::stats::Interval) -> f64| {
        tuned
            .iter()
            .map(|t| t.row.test.as_ref().map(f))
            .collect::<Vec<Option<f64>>>()
    };
    df!(
        "head" => tuned.iter().map(|t| t.head.clone()).collect::<Vec<_>>(),
        "train_per_class" => tuned.iter().map(|t| t.row.train_per_class).collect::<Vec<_>>(),
        "variant" => tuned.iter().map(|t| t.row.variant.clone()).collect::<Vec<_>>(),
        "chosen" => tuned.iter().map(|t| t.chosen.clone()).collect::<Vec<_>>(),
        "cells" => tuned.iter().map(|t| t.row.val.n as u64).collect::<Vec<_>>(),
        "val_acc_mean" => tuned.iter().map(|t| t.row.val.mean).collect::<Vec<_>>(),
        "test_acc_mean" => test(|i| i.mean),
        "test_acc_ci_lo" => test(crate::stats::Interval::lo),
        "test_acc_ci_hi" => test(crate::stats::Interval::hi),
        "train_acc_mean" => tuned.iter().map(|t| t.row.train.mean).collect::<Vec<_>>(),
        "params" => tuned.iter().map(|t| t.row.params).collect::<Vec<_>>(),
    )
    .map_err(ReportError::table("building the tuned table"))
}

pub(crate) fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

/// A difference in the claim's units: percentage points for accuracies.
pub(crate) fn diff_text(metric: Metric, x: f64) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    if metric.is_accuracy() {
        format!("{:+.2} pp", x * 100.0)
    } else if metric == Metric::Params {
        format!("{:+.0}", x)
    } else {
        format!("{:+.4}", x)
    }
}

pub(crate) fn ci_text(metric: Metric, lo: f64, hi: f64) -> String {
    if !(lo.is_finite() && hi.is_finite()) {
        return "n/a (one seed)".into();
    }
    format!("[{}, {}]", diff_text(metric, lo), diff_text(metric, hi))
}

fn p_text(p: f64) -> String {
    if p.is_finite() {
        format!("{p:.3}")
    } else {
        "—".into()
    }
}

fn margin_text(claim: &Claim) -> String {
    if claim.metric.is_accuracy() {
        format!("{} pp", claim.rope * 100.0)
    } else {
        format!("{}", claim.rope)
    }
}

fn verdict_text(v: Verdict) -> &'static str {
    match v {
        Verdict::Supported => "**supported**",
        Verdict::Contradicted => "**contradicted**",
        Verdict::Equivalent => "**equivalent**",
        Verdict::Inconclusive => "inconclusive",
    }
}

fn contrast_text(claim: &Claim) -> String {
    if claim.expect == Expect::Identical {
        return format!(
            "training curves of ({}) vs ({})",
            claim.a.describe(),
            claim.b.describe()
        );
    }
    let (a, b) = (claim.a.describe(), claim.b.describe());
    let (a, b) = match claim.compare {
        Compare::All => (format!("({a})"), format!("({b})")),
        Compare::Best => (format!("({a})"), format!("best of ({b})")),
        Compare::Tuned => (format!("tuned ({a})"), format!("tuned ({b})")),
    };
    format!("{} of {a} − {b}", claim.metric.column())
}

/// The distinct values of a text column, sorted (provenance: normally one each).
fn distinct_values(frame: &DataFrame, column: &str) -> Result<Vec<String>, ReportError> {
    let mut values = strings(frame, column)?;
    values.sort();
    values.dedup();
    Ok(values)
}

/// A grid axis that is left out of the manifest at its default.
fn or_default(value: &serde_json::Value, pointer: &str, default: &str) -> String {
    match value.pointer(pointer) {
        None => default.to_string(),
        Some(_) => json_text(value, pointer),
    }
}

fn json_text(value: &serde_json::Value, pointer: &str) -> String {
    match value.pointer(pointer) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => "—".into(),
        Some(v) => v.to_string(),
    }
}

/// The runs recorded in `run-info/` by `ablate run`: one line on the machines and wall time.
fn run_info(results_dir: &Path) -> Option<String> {
    let dir = results_dir.join("run-info");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let runs: Vec<serde_json::Value> = files
        .iter()
        .filter_map(|p| serde_json::from_slice(&std::fs::read(p).ok()?).ok())
        .collect();
    if runs.is_empty() {
        return None;
    }
    let mut machines: Vec<String> = runs
        .iter()
        .map(|r| {
            format!(
                "{} ({} cores, {} cells at once)",
                json_text(r, "/cpu"),
                json_text(r, "/cores"),
                json_text(r, "/jobs")
            )
        })
        .collect();
    machines.sort();
    machines.dedup();
    let wall: f64 = runs
        .iter()
        .filter_map(|r| r.pointer("/wall_seconds")?.as_f64())
        .sum();
    Some(format!(
        "{} in {} run(s) of `ablate run`, {:.1} min wall in total",
        machines.join("; "),
        runs.len(),
        wall / 60.0
    ))
}

/// Everything the Markdown shows.
#[derive(Clone, Copy)]
struct Sections<'a> {
    manifest: &'a Manifest,
    results: &'a Results,
    rows: &'a [VariantRow],
    claims: &'a [ClaimResult],
    dropout: &'a [ClaimResult],
    picks: &'a [Pick],
    tuned: &'a [Tuned],
    machines: &'a Option<String>,
    variance_figure: bool,
    has_test: bool,
}

fn markdown(sections: &Sections) -> Result<String, ReportError> {
    let Sections {
        manifest,
        results,
        rows,
        claims,
        dropout,
        picks,
        tuned,
        machines,
        variance_figure,
        has_test,
    } = *sections;
    let e = &manifest.experiment;
    let runs = &results.runs;
    let mut md = String::new();
    let w = &mut md;
    let _ = writeln!(
        w,
        "# Which head on a pretrained backbone? `{}`\n",
        manifest.name
    );
    let _ = writeln!(
        w,
        "> Made by `ablate report` from `results/{}/` — config `{}`, ablate {}, backend {}.  ",
        manifest.name,
        manifest.config_hash,
        distinct_values(runs, "ablate_version")?.join(", "),
        distinct_values(runs, "backend")?.join(", ")
    );
    let _ = writeln!(
        w,
        "> features sha256 `{}`, backbone weights sha256 `{}`, dataset sha256 `{}`.\n",
        distinct_values(runs, "features_sha256")?.join(", "),
        distinct_values(runs, "backbone_sha256")?.join(", "),
        distinct_values(runs, "dataset_sha256")?.join(", ")
    );
    if !has_test {
        let _ = writeln!(
            w,
            "> ⚠ **No test split: this report reports on the validation split.** The features have no \
             `test_x`/`test_y` (set `data.test_per_class`, `test_fraction` or a `test/` folder and run \
             again), so every accuracy below, the tuned choices and the claims declared on test included, \
             is measured on the split that also chose the hyperparameters: optimistic for whatever was \
             chosen.\n"
        );
    }

    let _ = writeln!(w, "## The question\n");
    let _ = writeln!(
        w,
        "A forum thread asks which classifier head to put on a pretrained EfficientNet (4 output classes):\n\n\
         - **model1** (`mlp`): `Linear(F→H, bias on/off) → ReLU (on/off) → BatchNorm1d → Dropout(p) → Linear(H→C)`\n\
         - **model2** (`linear`): `Linear(F→C)`\n\n\
         and makes the claims judged below. Every head variant is trained on the same frozen backbone \
         features with several seeds; a seed fixes the training subset, the initialisation and the batch \
         order, so two variants with the same seed differ only in the head (a *paired* design).\n"
    );

    let _ = writeln!(w, "## Setup\n");
    let cells = runs.height();
    let seconds: f64 = f64s(runs, "seconds")?.iter().sum();
    let _ = writeln!(w, "| | |\n|---|---|");
    let _ = writeln!(
        w,
        "| data | {} `{}`, classes {} ({}), training pool {} per class, validation {} per class, test {} per class (disjoint from validation) |",
        json_text(e, "/data/kind"),
        json_text(e, "/data/path"),
        json_text(e, "/data/classes"),
        json_text(e, "/data/class_names"),
        json_text(e, "/data/train_pool_per_class"),
        json_text(e, "/data/val_per_class"),
        json_text(e, "/data/test_per_class"),
    );
    let _ = writeln!(
        w,
        "| backbone | {} (`{}`), {} px, frozen; features = global-average-pooled last stage |",
        json_text(e, "/backbone/arch"),
        json_text(e, "/backbone/weights"),
        json_text(e, "/backbone/image_size"),
    );
    let _ = writeln!(
        w,
        "| training | {} lr {}, {} epochs, batch {}, hidden width {}, weight decay {} |",
        json_text(e, "/train/optimizer"),
        json_text(e, "/train/lr"),
        json_text(e, "/train/epochs"),
        json_text(e, "/train/batch_size"),
        json_text(e, "/train/hidden"),
        json_text(e, "/train/weight_decay"),
    );
    let _ = writeln!(
        w,
        "| grid | heads {}, bias before BN {}, ReLU {}, dropout {} (position {}), last-layer bias {}, input dropout {}, weight decay {}, training sizes {} per class, seeds {} |",
        json_text(e, "/grid/head"),
        json_text(e, "/grid/bias_before_bn"),
        json_text(e, "/grid/relu"),
        json_text(e, "/grid/dropout"),
        or_default(e, "/grid/dropout_position", "[\"after_bn\"]"),
        json_text(e, "/grid/last_bias"),
        or_default(e, "/grid/input_dropout", "[0.0]"),
        or_default(e, "/grid/weight_decay", "`train.weight_decay`"),
        json_text(e, "/grid/train_per_class"),
        json_text(e, "/grid/seeds"),
    );
    let _ = writeln!(
        w,
        "| cells | {cells} trained cells, {:.1} min of training summed over cells (backend {}) |",
        seconds / 60.0,
        distinct_values(runs, "backend")?.join(", ")
    );
    let _ = writeln!(
        w,
        "| hardware | {} |\n",
        machines.as_deref().unwrap_or(
            "not recorded: these results predate the run log (`results/<name>/run-info/`, written by `ablate run`); see the README, Performance"
        )
    );

    let _ = writeln!(w, "## Verdicts\n");
    let _ = writeln!(
        w,
        "Each claim is measured as a paired difference `a − b`: per seed, the mean over the variant pairs \
         that differ only in what the claim is about, then a 95% Student-t interval over the seeds. \
         **Rule:** *supported* when the interval excludes 0 on the side the claim predicts, *contradicted* \
         when it excludes 0 on the other side, *inconclusive* when it contains 0. Claims of identity \
         (`identical`) are judged by exactness instead: supported when the largest per-epoch |train-loss \
         difference| and the largest |gradient| of the bias before BN are below the stated tolerances. \
         `best of (...)` compares with the variant of best mean validation accuracy at that size: that \
         choice favours `b`, so a verdict for `a` against it is conservative. `tuned (...)` is the \
         selection protocol: each side is reduced to its variant of best mean *validation* accuracy \
         (its tuned hyperparameters) and the two are compared on the claim's metric, on the *test* \
         split, which took no part in the choice. \
         **Equivalent** (checked first): the whole interval lies inside the claim's margin `rope` (default \
         ±1 accuracy point), a difference too small to matter. Supported and contradicted also need the \
         paired t test's p, Holm-adjusted across all rows of this table, below 0.05. Beside it: the exact \
         sign-flip permutation test (no normality assumed; with n seeds its smallest possible p is \
         2/2^n, 0.0625 at 5 seeds, so it can only corroborate) and P(a > b), the share of seeds where a \
         beat b. An inconclusive row says how many seeds would settle it if the observed mean and spread of the \
         paired differences held: enough to exclude 0 or to fit inside the margin.\n"
    );
    if claims.is_empty() {
        let _ = writeln!(
            w,
            "*The experiment declares no `[[claims]]`; add some to get verdicts.*\n"
        );
    } else {
        let _ = writeln!(
            w,
            "| claim | the thread says | measured as (a − b) | per class | seeds | mean difference | 95% CI | P(a > b) | p: t / Holm / sign-flip | verdict |"
        );
        let _ = writeln!(w, "|---|---|---|---|---|---|---|---|---|---|");
        for c in claims {
            for (k, r) in c.rows.iter().enumerate() {
                let (mean, ci, p) = match r.exactness {
                    Some((loss, grad)) => (
                        format!(
                            "max \\|Δ train loss\\| {loss:.1e}; max \\|bias grad\\| {grad:.1e}"
                        ),
                        format!(
                            "tolerances {:.0e} / {:.0e}",
                            c.claim.loss_tolerance, c.claim.grad_tolerance
                        ),
                        "—".to_string(),
                    ),
                    None => (
                        diff_text(c.claim.metric, r.diff.mean),
                        ci_text(c.claim.metric, r.diff.lo(), r.diff.hi()),
                        format!(
                            "{} / {} / {}",
                            p_text(r.p_t),
                            p_text(r.p_holm),
                            p_text(r.p_flip)
                        ),
                    ),
                };
                let versus = match (&r.chosen, &r.opponent) {
                    (Some(a), Some(b)) => format!(" — chosen on val: `{a}` vs `{b}`"),
                    (None, Some(b)) => format!(" vs `{b}`"),
                    _ => String::new(),
                };
                // The claim's words and contrast once, on its first row.
                let (id, says, contrast) = if k == 0 {
                    (
                        c.claim.id.as_str(),
                        c.claim.says.replace('|', "\\|"),
                        contrast_text(&c.claim),
                    )
                } else {
                    ("", String::new(), String::new())
                };
                // P(a > b) of an exactness claim would only count float-rounding flips.
                let better = if r.exactness.is_some() {
                    "—".to_string()
                } else {
                    format!("{:.2}", r.p_improvement)
                };
                let mut verdict = verdict_text(r.verdict).to_string();
                if let Some(n) = r.seeds_needed {
                    let _ = write!(
                        verdict,
                        " (~{n} seeds would settle it if mean and spread hold; margin ±{})",
                        margin_text(&c.claim)
                    );
                }
                if r.diff.n < 5 && c.claim.expect != Expect::Identical {
                    verdict.push_str(" ⚠ fewer than 5 seeds");
                }
                let _ = writeln!(
                    w,
                    "| {id} | {says} | {contrast}{versus} | {} | {} | {mean} | {ci} | {better} | {p} | {verdict} |",
                    r.train_per_class, r.diff.n,
                );
            }
        }
        let _ = writeln!(w);
        for c in claims {
            let _ = writeln!(w, "- **{}**: {}", c.claim.id, c.summary());
        }
        let _ = writeln!(w);
    }

    let _ = writeln!(
        w,
        "## Tuned heads: chosen on validation, reported on test\n"
    );
    let _ = writeln!(
        w,
        "Per head family and training size, the variant with the best mean validation accuracy over \
         the grid's settings (weight decay, dropout, input dropout, and the bias and ReLU switches), \
         with its accuracy on the test split, which took no part in the choice. Also in `tuned.csv`.\n"
    );
    let _ = writeln!(
        w,
        "| per class | head | chosen variant | chosen settings | val acc (chose) | test acc | test 95% CI | train acc |"
    );
    let _ = writeln!(w, "|---|---|---|---|---|---|---|---|");
    for t in tuned {
        let (test, ci) = match &t.row.test {
            Some(i) => (pct(i.mean), format!("[{}, {}]", pct(i.lo()), pct(i.hi()))),
            None => ("no test split".into(), "—".into()),
        };
        let _ = writeln!(
            w,
            "| {} | {} | `{}` | {} | {} | {test} | {ci} | {} |",
            t.row.train_per_class,
            t.head,
            t.row.variant,
            t.chosen,
            pct(t.row.val.mean),
            pct(t.row.train.mean)
        );
    }
    let _ = writeln!(w);

    let _ = writeln!(w, "## What to use\n");
    let _ = writeln!(
        w,
        "Derived from the numbers: per training size, the variant with the best mean validation accuracy; \
         the variants whose paired difference to it has a 95% CI containing 0 (statistically tied); and \
         the smallest of those, which is the one to use when the tie holds. Chosen on validation; the \
         test accuracy beside each is the unbiased estimate.\n"
    );
    let _ = writeln!(
        w,
        "| per class | best (val acc; test acc) | tied with it | use (fewest parameters among best and tied) |"
    );
    let _ = writeln!(w, "|---|---|---|---|");
    let test_of = |r: &VariantRow| {
        r.test
            .as_ref()
            .map_or("no test split".to_string(), |t| pct(t.mean))
    };
    for p in picks {
        let _ = writeln!(
            w,
            "| {} | `{}` ({}; {}) | {} | `{}` ({}; {}; {} parameters) |",
            p.train_per_class,
            p.best.variant,
            pct(p.best.val.mean),
            test_of(&p.best),
            match p.tied.len() {
                0 => "none".to_string(),
                1 => format!("`{}`", p.tied[0].variant),
                n => format!("{n} variants"),
            },
            p.smallest.variant,
            pct(p.smallest.val.mean),
            test_of(&p.smallest),
            p.smallest.params
        );
    }
    let _ = writeln!(w);

    let _ = writeln!(w, "## Evidence\n");
    let figure = |w: &mut String, stem: &str, alt: &str| {
        let _ = writeln!(w, "![{alt}]({stem}.png)\n\n([SVG]({stem}.svg))\n");
    };
    let _ = writeln!(w, "### Accuracy per variant\n");
    figure(
        w,
        "final_accuracy",
        "final validation accuracy with 95% CI and training accuracy per variant",
    );
    figure(
        w,
        "val_acc_by_size",
        "validation accuracy vs training-set size per variant",
    );
    figure(
        w,
        "val_acc_by_epoch",
        "validation accuracy per epoch, mean and 95% band",
    );
    for c in claims {
        let _ = writeln!(w, "### Claim {}: {}\n", c.claim.id, c.claim.says);
        let _ = writeln!(
            w,
            "Measured as {}; expected: {}. Verdict: {}.\n",
            contrast_text(&c.claim),
            match c.claim.expect {
                Expect::Higher => "a − b > 0",
                Expect::Lower => "a − b < 0",
                Expect::Identical => "identical training",
            },
            c.summary()
        );
        if c.claim.expect == Expect::Identical {
            figure(
                w,
                "bias_grad_by_epoch",
                "gradient of the bias before BN per epoch",
            );
        }
        pairs_table(w, c)?;
    }
    if variance_figure {
        let _ = writeln!(w, "### Variance shift (BatchNorm)\n");
        let _ = writeln!(
            w,
            "`bn_var_ratio`: BN's running variance divided by the variance of BN's input on the \
             validation set in eval mode, median over BN's features (a mean would be decided by the few units a \
             ReLU leaves nearly dead on val). Li et al. (CVPR 2019) predict about \
             1/(1−p) for dropout p right before BN, about 1 when dropout comes after it; a ratio away \
             from 1 means BN normalises test inputs with the wrong scale. Beside it, the accuracy of the \
             same variants.\n"
        );
        figure(
            w,
            "variance_shift",
            "BN variance ratio and accuracy per mlp variant",
        );
    }
    if !dropout.is_empty() {
        let _ = writeln!(w, "### Dropout (not a claim of the thread)\n");
        for c in dropout {
            let _ = writeln!(w, "{}:\n", c.claim.says);
            pairs_table(w, c)?;
        }
    }

    let _ = writeln!(w, "## Per-variant table\n");
    let _ = writeln!(
        w,
        "Mean and standard deviation over seeds with the 95% t interval; gap = train − val accuracy; \
         BN ratio = `bn_var_ratio` (mlp). Also in `variants.csv`.\n"
    );
    let _ = writeln!(
        w,
        "| per class | variant | cells | val acc | val sd | val 95% CI | test acc | test 95% CI | train acc | train sd | train 95% CI | gap | BN ratio | parameters |"
    );
    let _ = writeln!(
        w,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for r in rows {
        let (test, test_ci) = match &r.test {
            Some(t) => (pct(t.mean), format!("[{}, {}]", pct(t.lo()), pct(t.hi()))),
            None => ("—".into(), "—".into()),
        };
        let ratio = r
            .bn_var_ratio
            .as_ref()
            .map_or("—".to_string(), |i| format!("{:.3}", i.mean));
        let _ = writeln!(
            w,
            "| {} | `{}` | {} | {} | {:.2} pp | [{}, {}] | {test} | {test_ci} | {} | {:.2} pp | [{}, {}] | {:+.2} pp | {ratio} | {} |",
            r.train_per_class,
            r.variant,
            r.val.n,
            pct(r.val.mean),
            r.val.sd * 100.0,
            pct(r.val.lo()),
            pct(r.val.hi()),
            pct(r.train.mean),
            r.train.sd * 100.0,
            pct(r.train.lo()),
            pct(r.train.hi()),
            r.gap * 100.0,
            r.params
        );
    }
    let _ = writeln!(
        w,
        "\nFiles: `variants.csv`, `claims.csv`, `tuned.csv`, `contrast-<claim>.csv`, figures as PNG and SVG."
    );
    Ok(md)
}

fn pairs_table(w: &mut String, c: &ClaimResult) -> Result<(), ReportError> {
    let f = &c.pairs;
    let a = strings(f, "a_variant")?;
    let b = strings(f, "b_variant")?;
    let sizes = strings(f, "train_per_class")?;
    let seeds = strings(f, "seeds")?;
    let mean = f64s(f, "diff_mean")?;
    let lo = f64s(f, "diff_ci_lo")?;
    let hi = f64s(f, "diff_ci_hi")?;
    let agree = strings(f, "agree")?;
    let _ = writeln!(
        w,
        "| per class | a | b | seeds | mean a − b | 95% CI | seeds agreeing |\n|---|---|---|---|---|---|---|"
    );
    for i in 0..f.height() {
        let _ = writeln!(
            w,
            "| {} | `{}` | `{}` | {} | {} | {} | {}/{} |",
            sizes[i],
            a[i],
            b[i],
            seeds[i],
            diff_text(c.claim.metric, mean[i]),
            ci_text(c.claim.metric, lo[i], hi[i]),
            agree[i],
            seeds[i]
        );
    }
    let _ = writeln!(w);
    Ok(())
}
