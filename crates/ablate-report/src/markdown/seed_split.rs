//! What the seed spread is made of (the held blocks), and the answer's intervals for a fresh
//! training set: the DETAILS table and the first screen's short form.

use std::fmt::Write as _;

use ablate_spec::Claim;

use super::format::{ci_text, diff_text};
use crate::analysis::Analysis;
use crate::contrast::{ClaimResult, ClaimRow};
use crate::seed_split::{SeedSplit, SplitRow};

/// Widenings below this are not worth a second interval.
const NOTICEABLE: f64 = 1.02;

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

/// "about [-1.12 pp, -0.45 pp] for training sets drawn afresh" for the answer's footnote, at the
/// sizes whose seeds share a quarter of their images or more (where the footnote already says the
/// interval is narrower than a fresh training set's); `None` where no such size widens noticeably.
pub(crate) fn fresh_caveat(analysis: &Analysis, answer: &ClaimResult) -> Option<String> {
    let heavy = |size: u64| {
        split_for(analysis, &answer.claim, size)
            .is_some_and(|(_, r)| r.pool_fraction >= super::format::HEAVY_OVERLAP)
    };
    let rows: Vec<&ClaimRow> = answer
        .rows
        .iter()
        .filter(|r| heavy(r.train_per_class))
        .collect();
    let parts: Vec<String> = rows
        .iter()
        .filter_map(|row| {
            let (lo, hi, _) = fresh_interval(analysis, &answer.claim, row)?;
            let at = if rows.len() > 1 {
                format!("at {}/class ", row.train_per_class)
            } else {
                String::new()
            };
            Some(format!(
                "{at}about {} for training sets drawn afresh",
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
             no claim and no tuning; the two heads' held cells still share their draws, so each \
             block's difference is paired as the claim's is):\n",
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
            "\n*The subset's share* is `sd(init, order held)² / (sd(subset held)² + sd(init, order held)²)`. \
             *The widening*: a subset of n drawn from a pool of N without replacement varies \
             (1 − n/N) times as much as one drawn afresh (the finite-population correction, exact \
             for a mean and an approximation for a trained model's accuracy); taking the subset's \
             part of the seed variance as its share of `sd_all²`, a fresh training set's seed \
             variance is about `sd_all² · (1 + share · f / (1 − f))` with f = n/N, and the seed \
             part of the interval widens by its square root. Each sd is itself uncertain (with \
             {seeds} seeds, about ±{:.0}% of its value) and a ratio of two variances from {seeds} \
             seeds spans about a factor of {:.0} at 95%, so the share and the widening are rough \
             (the sd with everything varying need not equal the two parts' sum, and here need not \
             be the larger).\n",
            100.0 / (2.0 * (seeds.max(2) - 1) as f64).sqrt(),
            f_ratio_span(seeds)
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
            "The answer's simultaneous intervals read for a fresh training set, assuming its tuned \
             heads' seed split is what the asker's heads show (the tuned heads' own cells are not \
             held; the verdicts read the intervals given the pool):\n\n{}\n",
            lines.join("\n")
        );
    }
}

/// The ratio between the 97.5% and 2.5% points of F(n-1, n-1): how far apart two variance
/// estimates from `seeds` seeds each can lie by chance alone (about 5 at 8 seeds).
fn f_ratio_span(seeds: usize) -> f64 {
    use statrs::distribution::{ContinuousCDF, FisherSnedecor};
    let dof = (seeds.max(2) - 1) as f64;
    FisherSnedecor::new(dof, dof).map_or(f64::NAN, |f| f.inverse_cdf(0.975) / f.inverse_cdf(0.025))
}
