//! The verdict table: how claims are judged, one row per claim and size, a line per claim.

use std::fmt::Write as _;

use super::format::{
    agree_text, ci_text, contrast_text, detectable_text, diff_text, p_text, sensitivity_text,
    verdict_words,
};
use crate::analysis::Analysis;
use crate::contrast::Exactness;
use crate::results::Results;

pub fn write(w: &mut String, results: &Results, analysis: &Analysis) {
    let claims = &analysis.claims;
    let experiment = &results.experiment;
    let _ = writeln!(w, "## Verdicts\n");
    let _ = writeln!(
        w,
        "Each claim is measured as a paired difference `a − b`: per seed, the mean over the variant pairs \
         that differ only in what the claim is about (paired: the same training subset, initialisation, \
         batch order and dropout draws, so what a seed does to both sides cancels). \
         A claim that spans several variant pairs measures their unweighted average over the pairs the \
         grid has (its per-pair table lists them). **The interval**, over seeds and, for test accuracy \
         with recorded predictions, over the test images too (marked \"seeds × N images\"): \
         `half = sqrt((t[S−1, q] · s_seed / √S)² + (z[q] · s_image / √N)²)`, where `s_seed` is the sd of \
         the S per-seed differences, `s_image` the sd of the test images' own effect (the two-way \
         random-effects model's component, the seed-by-image interaction removed, so nothing is counted \
         twice) and q the interval's level; what it covers is said below the rule. Other metrics get the t part alone. **One family per claim:** a \
         claim judged at k training sizes gets k \
         intervals that hold together at 95% (Bonferroni: each at 1 − 0.05/k), and the verdict reads \
         that interval; the `Holm` p adjusts over every judged row of this report, for a reader who \
         takes the whole table as one family. **Rule** (its history, and what was extended after which results, in docs/statistics.md): \
         *equivalent* when the whole interval lies inside the claim's margin `rope` (default ±1 \
         accuracy point: a practical threshold, the smallest gap worth changing a head for; the row \
         says when it still excludes 0); *supported* when it excludes 0 on the side the claim predicts; \
         *contradicted* when it excludes 0 on the other side; either of those two reads *suggestive* \
         instead when the row fails the table-wide Holm test or the sign-flip test (with 3 seeds the \
         sign-flip test cannot go below 0.25), and every place that shows the row says so; a row \
         whose interval excludes 0 names its direction wherever it is shown, an equivalent one too; \
         *inconclusive* otherwise, with the seeds \
         that would settle it under the same formula if the observed mean and spread held (none asked \
         for below 5 seeds, where the spread is itself too uncertain). The last column gives the \
         verdict at half and at twice the margin: where it changes, the margin decides, not the data. \
         **Detectable** is the smallest true difference this design would find (interval excluding 0) \
         with 80% power at the claim's level: a property of the design, not a bound; what the data rule \
         out is outside the interval. A parameter count is exact: no interval. *Not measured* rows have nothing to judge (both sides at 100% in every \
         seed, or no spread at all) and say so. Claims of identity (`identical`) are judged by \
         exactness instead: supported when the largest per-epoch |train-loss difference| and the \
         largest |gradient| of the bias before BN are below the stated tolerances (`loss_epochs = 0` \
         shows the losses without judging them: where training amplifies float rounding, as \
         fine-tuning a backbone does, two runs of one exact function part after a few steps). \
         `best of (...)` compares with the `b` variant of best mean validation accuracy (a choice that \
         favours `b`). `tuned (...)` is the selection protocol, **leave-one-seed-out**: each seed's \
         difference compares the variants of best mean *validation* accuracy over the *other* seeds, \
         on this seed's *test* split, so no seed's validation luck chooses the variant its test scores \
         (the table names the choice on every seed, and in how many folds it was the same). Beside \
         them: p of the interval's own test, within the claim (`min(1, k·p)`) and Holm over the \
         table, and the exact sign-flip permutation test (no normality assumed; with n seeds its \
         smallest p is 2/2^n, 0.0078 at 8).\n"
    );
    if let Some(text) = super::format::pool_overlap(results, !analysis.seed_splits.is_empty()) {
        let _ = writeln!(w, "{text}\n");
    }
    let answer = experiment
        .answer_claim()
        .and_then(|a| claims.iter().find(|c| c.claim.id == a.id));
    super::seed_split::write(w, analysis, answer);
    if !experiment.claims.declared {
        let _ = writeln!(
            w,
            "*These are the forum thread's claims, judged by default: the experiment declares no \
             `[[claims]]` (declare your own, or write `claims = []` for none).*\n"
        );
    }
    for missing in &experiment.claims.unmeasured {
        let _ = writeln!(
            w,
            "- Not measured: **{}** ({}): {} to the experiment's grid.",
            missing.id,
            missing.says.trim_end_matches('.'),
            missing.add
        );
    }
    if !experiment.claims.unmeasured.is_empty() {
        let _ = writeln!(w);
    }
    if claims.is_empty() {
        let _ = writeln!(
            w,
            "*No claims to judge: declare `[[claims]]` in the experiment to get verdicts.*\n"
        );
    } else {
        let _ = writeln!(
            w,
            "| claim | the thread says | measured as (a − b) | per class | seeds | mean difference | simultaneous 95% CI | detectable (80% power) | seeds on the claim's side | p: row / in claim / Holm / sign-flip | verdict | at ½× / 2× the margin |"
        );
        let _ = writeln!(w, "|---|---|---|---|---|---|---|---|---|---|---|---|");
        for c in claims {
            for (k, r) in c.rows.iter().enumerate() {
                let (mean, ci, p, detectable) = match r.exactness {
                    Some(Exactness {
                        loss_gap: loss,
                        bias_grad: grad,
                    }) => (
                        format!(
                            "max \\|Δ train loss\\|{} {loss:.1e}; max \\|bias grad\\| {grad:.1e}",
                            match c.claim.loss_epochs {
                                Some(0) => " (not judged)".to_string(),
                                Some(1) => " (epoch 1)".to_string(),
                                Some(n) => format!(" (epochs 1-{n})"),
                                None => String::new(),
                            }
                        ),
                        match c.claim.loss_epochs {
                            Some(0) => {
                                format!("tolerance {:.0e} (gradient)", c.claim.grad_tolerance)
                            }
                            _ => format!(
                                "tolerances {:.0e} / {:.0e}",
                                c.claim.loss_tolerance, c.claim.grad_tolerance
                            ),
                        },
                        "—".to_string(),
                        "—".to_string(),
                    ),
                    None if c.claim.metric == ablate_spec::Metric::Params => (
                        format!(
                            "{} (a {:.0} vs b {:.0}, means over the pairs: {:.0}×)",
                            diff_text(c.claim.metric, r.diff.mean),
                            r.sides.0,
                            r.sides.1,
                            r.sides.0.max(r.sides.1) / r.sides.0.min(r.sides.1).max(1.0)
                        ),
                        "exact (a count)".to_string(),
                        "—".to_string(),
                        "—".to_string(),
                    ),
                    None => (
                        diff_text(c.claim.metric, r.diff.mean),
                        match r.test_images {
                            Some(images) => format!(
                                "{} (seeds × {images} images)",
                                ci_text(c.claim.metric, r.adjusted.lo(), r.adjusted.hi())
                            ),
                            None => ci_text(c.claim.metric, r.adjusted.lo(), r.adjusted.hi()),
                        },
                        format!(
                            "{} / {} / {} / {}",
                            p_text(r.p_value),
                            p_text(r.p_adjusted),
                            r.p_holm.map_or("—".into(), p_text),
                            p_text(r.p_flip)
                        ),
                        detectable_text(c.claim.metric, r),
                    ),
                };
                let versus = match (&r.chosen, &r.opponent) {
                    (Some(a), Some(b)) => match r.stable_folds {
                        Some((same, folds)) => format!(
                            " — chosen on every seed's val: `{a}` vs `{b}` (the same in {same} of {folds} leave-one-seed-out folds)"
                        ),
                        None => format!(" — chosen on val: `{a}` vs `{b}`"),
                    },
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
                // The share of seeds of an exactness claim would only count float-rounding flips.
                let better = if r.exactness.is_some() {
                    "—".to_string()
                } else {
                    agree_text(r)
                };
                let verdict = verdict_words(&c.claim, r);
                let _ = writeln!(
                    w,
                    "| {id} | {says} | {contrast}{versus} | {} | {} | {mean} | {ci} | {detectable} | {better} | {p} | {verdict} | {} |",
                    r.train_per_class,
                    r.diff.n,
                    sensitivity_text(r),
                );
            }
        }
        let _ = writeln!(w);
        for c in claims {
            let _ = writeln!(w, "- **{}**: {}", c.claim.id, c.summary());
        }
        let _ = writeln!(w);
    }
}
