//! Everything the report states, computed from the results once: the per-variant summary, the
//! claims' verdicts, the tuned heads, what to use, and the dropout contrasts. Writing (CSV, figures,
//! Markdown) only formats this.

use ablate_spec::{Claim, Metric, context_claims};
use polars::prelude::DataFrame;

use crate::choose::{Pick, Tuned, recommendations, tuned_rows};
use crate::contrast::{ClaimResult, judge_claim};
use crate::error::ReportError;
use crate::interactions::{Strata, strata};
use crate::per_class::{Confusion, confusions};
use crate::results::Results;
use crate::seed_split::{SeedSplit, seed_splits};
use crate::stats::{Verdict, passes_table_tests};
use crate::summary::{VariantRow, variant_summary};

pub struct Analysis {
    /// Per variant and size (the Markdown's per-variant table), and its CSV twin.
    pub rows: Vec<VariantRow>,
    pub summary: DataFrame,
    pub sizes: Vec<u64>,
    /// Whether the results have a test split; without one, test metrics fall back to val.
    pub has_test: bool,
    pub claims: Vec<ClaimResult>,
    /// Per claim (same order): its strata along the switches it does not contrast.
    pub strata: Vec<Vec<Strata>>,
    pub dropout: Vec<ClaimResult>,
    pub picks: Vec<Pick>,
    pub tuned: Vec<Tuned>,
    /// The tuned heads' confusion matrices on test (empty without recorded predictions).
    pub confusions: Vec<Confusion>,
    /// What the seed spread is made of, per claim with held cells (empty without them).
    pub seed_splits: Vec<SeedSplit>,
    /// The regime the answer claim compares its heads in, where the grid has both
    /// ([`claim_regime`]): the tuned heads the answer shows are that regime's.
    pub answer_regime: Option<bool>,
}

pub fn analyse(results: &Results) -> Result<Analysis, ReportError> {
    let (summary, rows) = variant_summary(results)?;
    let sizes = results.sizes()?;
    // Without a test split every test metric falls back to val, and the report says so loudly.
    let has_test = results.has_test();
    let claims: Vec<ClaimResult> = results
        .experiment
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
            judge_claim(results, &claim)
        })
        .collect::<Result<_, _>>()?;
    let strata = claims
        .iter()
        .map(|c| strata(results, &c.claim))
        .collect::<Result<_, _>>()?;
    let mut tuned = tuned_rows(results, &rows)?;
    // Shown for context, not claims of the thread; on test when there is a test split.
    let context_metric = if has_test {
        Metric::TestAcc
    } else {
        Metric::ValAcc
    };
    let dropout = context_claims(&results.variants, context_metric)
        .iter()
        .map(|c| judge_claim(results, c))
        .collect::<Result<_, _>>()?;
    let mut claims = claims;
    holm(&mut claims);
    demote_untested(&mut claims);
    attach_loso(results, &claims, context_metric, &mut tuned);
    Ok(Analysis {
        strata,
        dropout,
        picks: recommendations(results, &rows, &sizes, &claims, &tuned)?,
        confusions: confusions(results, &tuned)?,
        seed_splits: seed_splits(results)?,
        answer_regime: results.experiment.answer_claim().and_then(claim_regime),
        tuned,
        rows,
        summary,
        sizes,
        has_test,
        claims,
    })
}

/// One number per fact: each tuned head that a tuned claim between two heads compares gets the
/// claim's own leave-one-seed-out accuracy at its size, so tuned.csv, the details and the first
/// screen carry the verdict's number beside the all-seeds choice, labelled. The answer claim goes
/// first; the others fill the heads it does not compare (a head's leave-one-seed-out choice reads
/// its own variants alone, so every claim that names it gives it the same number).
fn attach_loso(results: &Results, claims: &[ClaimResult], metric: Metric, tuned: &mut [Tuned]) {
    let answer_claim = results.experiment.answer_claim();
    let answer = answer_claim.map(|a| a.id.as_str());
    // The tuned table's accuracy is on test where there is a test split: the claims on another
    // metric say nothing of it.
    let metric = answer_claim.map_or(metric, |a| a.metric);
    let mut judged: Vec<&ClaimResult> = claims
        .iter()
        .filter(|c| c.claim.compare == ablate_spec::Compare::Tuned && c.claim.metric == metric)
        .filter(|c| c.claim.a.head.is_some() && c.claim.a.head != c.claim.b.head)
        .collect();
    // The answer claim first (a stable sort keeps the file's order after it).
    judged.sort_by_key(|c| Some(c.claim.id.as_str()) != answer);
    for c in judged {
        attach_claim_loso(c, tuned);
    }
}

fn attach_claim_loso(judged: &ClaimResult, tuned: &mut [Tuned]) {
    let regime = claim_regime(&judged.claim);
    for t in tuned
        .iter_mut()
        .filter(|t| t.loso.is_none())
        .filter(|t| t.finetuned.is_none() || t.finetuned == regime)
    {
        let Some(row) = judged
            .rows
            .iter()
            .find(|r| r.train_per_class == t.row.train_per_class)
        else {
            continue;
        };
        t.loso = if judged.claim.a.head == Some(t.head) {
            Some(row.sides.0)
        } else if judged.claim.b.head == Some(t.head) {
            Some(row.sides.1)
        } else {
            None
        };
    }
}

/// The regime both sides of `claim` pin (`Some(true)`: fine-tuned, `Some(false)`: frozen), where
/// the grid has both and the claim compares within one; `None` when its sides do not agree on one.
pub(crate) fn claim_regime(claim: &ablate_spec::Claim) -> Option<bool> {
    let regime = |side: &ablate_spec::Selector| match side.get(ablate_spec::Switch::Backbone) {
        Some(ablate_spec::Value::Word("finetune")) => Some(true),
        Some(ablate_spec::Value::Word("frozen")) => Some(false),
        _ => None,
    };
    let a = regime(&claim.a);
    (a == regime(&claim.b)).then_some(a).flatten()
}

/// One verdict vocabulary for the whole report: a supported or contradicted row that fails the
/// table-wide Holm test or the sign-flip test reads *suggestive* wherever it is shown (answer,
/// verdict table, claims.csv, README), so no place calls a result firm that another test rejects.
fn demote_untested(claims: &mut [ClaimResult]) {
    let firm = |v: Verdict| matches!(v, Verdict::Supported | Verdict::Contradicted);
    for row in claims.iter_mut().flat_map(|c| c.rows.iter_mut()) {
        if !row.p_value.is_finite() || passes_table_tests(row.p_holm, row.p_flip) {
            continue;
        }
        if firm(row.verdict) {
            row.verdict = Verdict::Suggestive;
        }
        // The verdicts at half and twice the margin fail the same tests: the margin moves the
        // interval's reading, not its p-values.
        if let Some(s) = row.sensitivity.as_mut() {
            for v in [&mut s.half_margin, &mut s.twice_margin] {
                if firm(*v) {
                    *v = Verdict::Suggestive;
                }
            }
        }
    }
}

/// Holm's step-down adjustment over every directional, measured row of the report: for a reader
/// who takes the whole verdict table as one family (each claim's own intervals are simultaneous
/// over its sizes only).
fn holm(claims: &mut [ClaimResult]) {
    let mut ps: Vec<(f64, usize, usize)> = claims
        .iter()
        .enumerate()
        .flat_map(|(c, claim)| {
            claim
                .rows
                .iter()
                .enumerate()
                .filter(|(_, r)| r.p_value.is_finite() && r.degenerate.is_none())
                .map(move |(k, r)| (r.p_value, c, k))
        })
        .collect();
    ps.sort_by(|a, b| a.0.total_cmp(&b.0));
    let m = ps.len();
    let mut running = 0.0f64;
    for (rank, (p, c, k)) in ps.into_iter().enumerate() {
        running = running.max(((m - rank) as f64 * p).min(1.0));
        claims[c].rows[k].p_holm = Some(running);
    }
}
