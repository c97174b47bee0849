//! What the seed spread is made of (the held blocks), and the answer's intervals for a fresh
//! training set: the DETAILS table and the first screen's short form.

use std::fmt::Write as _;

use ablate_spec::Claim;

use super::format::{ci_text, diff_text};
use crate::analysis::Analysis;
use crate::contrast::{ClaimResult, ClaimRow};
use crate::seed_split::{SeedSplit, SplitRow};

/// Widenings below this are not worth a second interval.
const NOTICEABLE: f64 = 1.005;

/// The split measured on a claim with the answer claim's heads and metric, and its row at `size`.
fn split_for<'a>(
    analysis: &'a Analysis,
    answer: &Claim,
    size: u64,
) -> Option<(&'a SeedSplit, &'a SplitRow)> {
    analysis.seed_splits.iter().find_map(|split| {
        let measured = analysis.claims.iter().find(|c| c.claim.id == split.claim)?;
        let same = measured.claim.a.head == answer.a.head
            && measured.claim.b.head == answer.b.head
            && measured.claim.metric == answer.metric;
        let row = split.rows.iter().find(|r| r.train_per_class == size)?;
        same.then_some((split, row))
    })
}

/// The row's interval (at its own level) with the seed part widened for a fresh training set, and
/// the split it read; `None` where the widening is not noticeable or nothing was measured.
pub(crate) fn fresh_interval<'a>(
    analysis: &'a Analysis,
    claim: &Claim,
    row: &ClaimRow,
) -> Option<(f64, f64, &'a SeedSplit)> {
    let (split, at) = split_for(analysis, claim, row.train_per_class)?;
    let widen = at.widen.filter(|w| *w >= NOTICEABLE)?;
    let half = row.spread.half_seed_widened(row.level, widen);
    half.is_finite()
        .then_some((row.adjusted.mean - half, row.adjusted.mean + half, split))
}

/// "about -1.14 to -0.42 pp for a fresh training set (the seed split, below)" for the answer's
/// footnote; `None` where no size widens noticeably.
pub(crate) fn fresh_caveat(analysis: &Analysis, answer: &ClaimResult) -> Option<String> {
    let parts: Vec<String> = answer
        .rows
        .iter()
        .filter_map(|row| {
            let (lo, hi, _) = fresh_interval(analysis, &answer.claim, row)?;
            Some(format!(
                "at {}/class about {} for training sets drawn afresh",
                row.train_per_class,
                ci_text(answer.claim.metric, lo, hi)
            ))
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// The DETAILS table per measured claim, and the answer read for a fresh training set.
pub fn write(w: &mut String, analysis: &Analysis, answer: Option<&ClaimResult>) {
    for split in &analysis.seed_splits {
        let Some(measured) = analysis.claims.iter().find(|c| c.claim.id == split.claim) else {
            continue;
        };
        let metric = measured.claim.metric;
        let seeds = split.rows.iter().map(|r| r.seeds).max().unwrap_or(0);
        let _ = writeln!(
            w,
            "**What the seed spread is made of** (claim {}'s difference, on `{}`; {seeds} seeds). A seed \
             draws the training subset from the pool, and the initialisation, batch order and \
             dropout masks. The grid also trains the claim's two variants with one of those parts \
             held at seed 0's draw while the seed varies the other (`held_fixed`; those cells enter \
             no claim and no tuning):\n",
            split.claim,
            metric.column()
        );
        let _ = writeln!(
            w,
            "| per class | sd over seeds, all varying | subset held (init, order, dropout vary) | init, order, dropout held (the subset varies) | the subset's share of the variance | a subset's share of the pool | interval widening for a fresh training set |"
        );
        let _ = writeln!(w, "|---|---|---|---|---|---|---|");
        let sd = |x: f64| diff_text(metric, x).trim_start_matches('+').to_string();
        for r in &split.rows {
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {:.0}% | {:.1}% | {} |",
                r.train_per_class,
                sd(r.sd_all),
                sd(r.sd_subset_held),
                sd(r.sd_init_held),
                100.0 * r.subset_share,
                100.0 * r.pool_fraction,
                r.widen.map_or("—".into(), |x| format!("×{x:.2}"))
            );
        }
        let _ = writeln!(
            w,
            "\n*The widening*: a subset of n drawn from a pool of N without replacement varies \
             (1 − n/N) times as much as one drawn afresh (the finite-population correction, exact \
             for a mean and an approximation for a trained model's accuracy), so the seeds' variance \
             for fresh training sets is about `sd_all² + var(subset part) · f / (1 − f)` with \
             f = n/N; the seed part of the interval widens by the square root of that over `sd_all²`. \
             Each sd is itself uncertain (with {seeds} seeds, about ±{:.0}% of its value), so the \
             shares are rough; the sd with everything varying need not equal the two parts' sum.\n",
            100.0 / (2.0 * (seeds.max(2) - 1) as f64).sqrt()
        );
    }
    let Some(answer) = answer else {
        return;
    };
    let lines: Vec<String> = answer
        .rows
        .iter()
        .filter_map(|row| {
            let (lo, hi, split) = fresh_interval(analysis, &answer.claim, row)?;
            Some(format!(
                "- {} at {}/class: {} {} given the pool; about {} for training sets drawn afresh \
                 (claim {}'s split at that size)",
                answer.claim.id,
                row.train_per_class,
                diff_text(answer.claim.metric, row.adjusted.mean),
                ci_text(answer.claim.metric, row.adjusted.lo(), row.adjusted.hi()),
                ci_text(answer.claim.metric, lo, hi),
                split.claim
            ))
        })
        .collect();
    if !lines.is_empty() {
        let _ = writeln!(
            w,
            "The answer's simultaneous intervals read for a fresh training set (the verdicts read the \
             intervals given the pool):\n\n{}\n",
            lines.join("\n")
        );
    }
}
