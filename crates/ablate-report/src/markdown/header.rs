//! The title, what produced the report, the no-test-split warning, and the question.

use std::fmt::Write as _;

use ablate_results::columns::runs as rc;
use polars::prelude::DataFrame;

use crate::analysis::Analysis;
use crate::error::ReportError;
use crate::frame::strings;
use crate::regimes::Regimes;
use crate::results::Results;

/// The title and, without a test split, the warning that every number is on val.
pub fn title(w: &mut String, results: &Results, analysis: &Analysis) {
    let (experiment, manifest) = (&results.experiment, &results.manifest);
    let title = experiment
        .report
        .title
        .clone()
        .unwrap_or_else(|| format!("Which head on a pretrained backbone? `{}`", manifest.name));
    let _ = writeln!(w, "# {title}\n");
    if !analysis.has_test {
        let _ = writeln!(
            w,
            "> ⚠ **No test split: this report reports on the validation split.** The features have no \
             `test_x`/`test_y` (set `data.test_per_class`, `test_fraction` or a `test/` folder and run \
             again), so every accuracy below, the tuned choices and the claims declared on test included, \
             is measured on the split that also chose the hyperparameters: optimistic for whatever was \
             chosen.\n"
        );
    }
}

/// What produced the report: config, versions, backend and the content hashes of its inputs.
pub fn provenance(w: &mut String, results: &Results) -> Result<(), ReportError> {
    let (manifest, runs) = (&results.manifest, &results.runs);
    let _ = writeln!(
        w,
        "> Made by `ablate report` from `{}/` — config `{}`, ablate {}, backend {}.  ",
        results
            .folder
            .as_deref()
            .map_or_else(|| format!("results/{}", manifest.name), shown_path),
        manifest.config_hash,
        distinct_values(runs, rc::ABLATE_VERSION)?.join(", "),
        distinct_values(runs, rc::BACKEND)?.join(", ")
    );
    let _ = writeln!(
        w,
        "> features sha256 {}, backbone weights sha256 {}, dataset sha256 {}.\n",
        hashes(runs, rc::FEATURES_SHA256)?,
        hashes(runs, rc::BACKBONE_SHA256)?,
        hashes(runs, rc::DATASET_SHA256)?
    );
    Ok(())
}

/// The distinct hashes of a column, each in backticks; features made outside ablate (a synthetic
/// or user-made file) record none, which is said in words rather than as empty backticks.
fn hashes(runs: &DataFrame, column: &str) -> Result<String, ReportError> {
    // Empty (or, read back from a CSV, missing): not recorded.
    let mut recorded: Vec<String> = crate::frame::optional_strings(runs, column)?
        .into_iter()
        .flatten()
        .filter(|h| !h.is_empty())
        .map(|h| format!("`{h}`"))
        .collect();
    recorded.sort();
    recorded.dedup();
    Ok(if recorded.is_empty() {
        "not recorded (the features file does not say)".into()
    } else {
        recorded.join(", ")
    })
}

/// A folder as the report names it: relative to the working directory when it lies below it, with
/// `.` segments dropped, so `./results/forum/` and an absolute path to it read `results/forum`.
fn shown_path(folder: &std::path::Path) -> String {
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| {
            folder
                .strip_prefix(cwd)
                .ok()
                .map(std::path::Path::to_path_buf)
        })
        .unwrap_or_else(|| folder.to_path_buf());
    let clean: std::path::PathBuf = relative
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect();
    clean.display().to_string()
}

/// The question the experiment answers and the heads it compares.
pub fn question(w: &mut String, results: &Results) {
    let experiment = &results.experiment;
    let _ = writeln!(w, "## The question\n");
    let question = experiment.report.question.clone().unwrap_or_else(|| {
        "Which classifier head should sit on a pretrained backbone's features for this data?".into()
    });
    let _ = writeln!(w, "{}\n", question.trim_end());
    for head in experiment.config.grid.heads() {
        // How each head reads when the experiment does not say: its row of the head table.
        let text = experiment.report.heads.get(head);
        let _ = writeln!(w, "- {}", text.unwrap_or(head.info().describe));
    }
    let text = match Regimes::of(experiment) {
        Regimes::Frozen => {
            "Every head variant is trained on the same frozen backbone features with several \
             seeds; a seed fixes the training subset, the initialisation and the batch order, so two \
             variants with the same seed differ only in the head (a *paired* design)."
        }
        Regimes::Both => {
            "Every head variant is trained either on the frozen backbone's features or \
             together with the backbone, fine-tuned from the same pretrained weights (the `backbone` \
             switch; claims are judged per regime), with several seeds; a seed fixes the training \
             subset, the initialisation, the batch order and every dropout and drop-connect draw, so \
             two variants with the same seed differ only in what their names say (a *paired* design)."
        }
        Regimes::Finetuned => {
            "Every head variant is trained together with the backbone, fine-tuned \
             from the same pretrained weights, with several seeds; a seed fixes the training subset, \
             the initialisation, the batch order and every dropout and drop-connect draw, so two \
             variants with the same seed differ only in the head (a *paired* design)."
        }
    };
    let _ = writeln!(w, "\n{text}\n");
}

/// The distinct values of a text column, sorted (provenance: normally one each).
fn distinct_values(frame: &DataFrame, column: &str) -> Result<Vec<String>, ReportError> {
    let mut values = strings(frame, column)?;
    values.sort();
    values.dedup();
    Ok(values)
}
