//! The verdict table: how claims are judged, one row per claim and size, a line per claim.

use std::fmt::Write as _;

use ablate_spec::Expect;

use super::format::{ci_text, contrast_text, diff_text, p_text, verdict_words};
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
         that differ only in what the claim is about, then a Student-t interval over the seeds (paired, so \
         what a seed does to both sides cancels). **One family per claim:** a claim judged at k training \
         sizes gets k intervals that hold together at 95% (Bonferroni: each at 1 − 0.05/k), and the \
         verdict reads that interval. **Rule**, in this order: *equivalent* when the whole interval lies \
         inside the claim's margin `rope` (default ±1 accuracy point): no difference that matters, and \
         the row says when it still excludes 0 (a small effect, for or against the claim); *supported* \
         when it excludes 0 on the side the claim predicts; *contradicted* when it excludes 0 on the \
         other side; *inconclusive* otherwise, with the seeds that would settle it under the same rule \
         if the observed mean and spread held. Claims of identity (`identical`) are judged by exactness \
         instead: supported when the largest per-epoch |train-loss difference| and the largest |gradient| \
         of the bias before BN are below the stated tolerances (a claim can limit the losses to its \
         first `loss_epochs` epochs, or with 0 show them without judging them: where training amplifies \
         float rounding, as fine-tuning a backbone does, two runs of one exact function part after a few \
         steps, and the gradient, checked over every epoch, is the claim's measurable form). `best of (...)` compares with the variant \
         of best mean validation accuracy at that size: that choice favours `b`, so a verdict for `a` \
         against it is conservative. `tuned (...)` is the selection protocol: each side is reduced to its \
         variant of best mean *validation* accuracy (its tuned hyperparameters) and the two are compared \
         on the claim's metric on the *test* split, which took no part in the choice. **Test-set noise:** \
         where the cells recorded their test predictions, a test-accuracy interval is a two-way \
         bootstrap over seeds *and* test images (4000 replicates, each drawing seeds and images with \
         replacement, independently: Owen's bootstrap for crossed designs; percentile bounds made \
         symmetric by their wider side, and never narrower than the t interval over seeds, which \
         corrects for having only a few seeds where a bootstrap cannot), marked \"seeds × N images\", so it describes a fresh test draw from \
         the same distribution, not only this test split; the other intervals are t intervals over seeds and hold the test split fixed. \
         Beside them: the paired t test's p and the p adjusted within the claim (`min(1, k·p)`, of the \
         test the interval inverts: the bootstrap's where it judged), the exact sign-flip permutation test (no normality assumed; with n \
         seeds its smallest p is 2/2^n, 0.0625 at 5, so it can only corroborate), and the share of seeds \
         where a was above b.\n"
    );
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
            "| claim | the thread says | measured as (a − b) | per class | seeds | mean difference | simultaneous 95% CI | seeds with a > b | p: t / adjusted / sign-flip | verdict |"
        );
        let _ = writeln!(w, "|---|---|---|---|---|---|---|---|---|---|");
        for c in claims {
            for (k, r) in c.rows.iter().enumerate() {
                let (mean, ci, p) = match r.exactness {
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
                            "{} / {} / {}",
                            p_text(r.p_t),
                            p_text(r.p_adjusted),
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
                // The share of seeds of an exactness claim would only count float-rounding flips.
                let better = if r.exactness.is_some() {
                    "—".to_string()
                } else {
                    let above = r.p_improvement * r.diff.n as f64;
                    if above.fract() == 0.0 {
                        format!("{above:.0}/{}", r.diff.n)
                    } else {
                        format!("{above:.1}/{}", r.diff.n)
                    }
                };
                let mut verdict = verdict_words(&c.claim, r);
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
}
