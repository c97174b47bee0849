//! The verdict rule, as a pure function: one training size's per-seed differences (and, for test
//! accuracy, the two-way bootstrap over seeds and test images; for `identical` claims, the
//! exactness gaps) in, one [`ClaimRow`] out. No polars: the rule is tested on numbers alone.

use ablate_spec::{Claim, Expect};

use super::ClaimRow;
use crate::bootstrap::TwoWay;
use crate::stats::{self, Interval, Verdict};

/// What a claim asks of its differences: the direction, the margin and, for `identical` claims,
/// the tolerances.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    pub expect: Expect,
    /// Margin of practical equivalence, in the metric's units.
    pub rope: f64,
    /// `identical`: whether the loss gap is judged (`loss_epochs != 0`), and its tolerance.
    pub judge_loss: bool,
    pub loss_tolerance: f64,
    pub grad_tolerance: f64,
}

impl Rule {
    pub fn of(claim: &Claim) -> Self {
        Rule {
            expect: claim.expect,
            rope: claim.rope,
            judge_loss: claim.loss_epochs != Some(0),
            loss_tolerance: claim.loss_tolerance,
            grad_tolerance: claim.grad_tolerance,
        }
    }

    /// +1 when the claim expects `a > b` (or identity), -1 when it expects `a < b`.
    pub fn sign(&self) -> f64 {
        match self.expect {
            Expect::Lower => -1.0,
            _ => 1.0,
        }
    }
}

/// An `identical` claim's measurement at one size, over every pair and seed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exactness {
    /// The largest per-epoch |train-loss difference| between paired cells (over the judged epochs).
    pub loss_gap: f64,
    /// The largest |gradient| of the `a` side's pre-BN bias, over every epoch.
    pub bias_grad: f64,
}

/// One training size's evidence.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    pub train_per_class: u64,
    /// One difference per seed.
    pub diffs: &'a [f64],
    /// Their mean and sample sd, as the pairing computed them.
    pub mean: f64,
    pub sd: f64,
    /// Test accuracy with recorded predictions: the bootstrap over seeds and test images.
    pub two_way: Option<&'a TwoWay>,
    /// `identical` claims.
    pub exactness: Option<Exactness>,
    /// Sizes the claim is judged at: its intervals hold together over them (Bonferroni).
    pub family: usize,
}

/// Judges one size. The row's `opponent` and `chosen` are the caller's (they come from pairing).
pub fn judge(rule: &Rule, evidence: &Evidence) -> ClaimRow {
    let n = evidence.diffs.len();
    let level = stats::family_level(evidence.family);
    let mut diff = Interval {
        n,
        mean: evidence.mean,
        sd: evidence.sd,
        half: stats::half_width(n, evidence.sd),
    };
    let mut adjusted = Interval {
        half: stats::half_width_at(n, evidence.sd, level),
        ..diff
    };
    // The seeds-only interval, for the seeds hint.
    let seeds_only = adjusted;
    let two_way = evidence.two_way;
    if let Some(b) = two_way {
        // Percentile bounds, made symmetric about the observed mean by their wider side (the
        // rules and the table read a mean +- a half-width; the wider side is the safe one).
        // Never narrower than the t interval over seeds: with 5 seeds, resampling seeds alone
        // underestimates their spread (the t quantile with 4 degrees of freedom corrects for
        // that, a bootstrap does not), so adding the test split's noise must only widen.
        let symmetric = |(lo, hi): (f64, f64)| (b.mean - lo).max(hi - b.mean);
        diff.half = diff.half.max(symmetric(b.interval(stats::LEVEL)));
        adjusted.half = adjusted.half.max(symmetric(b.interval(level)));
    }
    let verdict = match (rule.expect, evidence.exactness) {
        (Expect::Identical, Some(exact)) => stats::judge_identical(
            rule.judge_loss.then_some(exact.loss_gap),
            rule.loss_tolerance,
            exact.bias_grad,
            rule.grad_tolerance,
        ),
        _ if stats::within_margin(&adjusted, rule.rope) => Verdict::Equivalent,
        (expect, _) => stats::judge_direction(&adjusted, expect),
    };
    let directional = rule.expect != Expect::Identical;
    let p_t = if directional {
        stats::t_test_p(&diff)
    } else {
        f64::NAN
    };
    let sign = rule.sign();
    ClaimRow {
        train_per_class: evidence.train_per_class,
        diff,
        adjusted,
        agree: evidence.diffs.iter().filter(|d| **d * sign > 0.0).count(),
        opponent: None,
        chosen: None,
        exactness: evidence.exactness,
        p_t,
        p_flip: if directional {
            stats::sign_flip_p(evidence.diffs)
        } else {
            f64::NAN
        },
        // The larger of the two tests' p, as the interval is the wider of the two.
        p_adjusted: (two_way.map_or(p_t, |b| b.p_value().max(p_t)) * evidence.family as f64)
            .min(1.0),
        test_images: two_way.map(|b| b.images),
        p_improvement: stats::p_improvement(evidence.diffs),
        seeds_needed: match (verdict, two_way) {
            (Verdict::Inconclusive, None) => stats::seeds_to_settle(&seeds_only, rule.rope, level),
            (Verdict::Inconclusive, Some(b)) => stats::seeds_to_settle_with_floor(
                &seeds_only,
                rule.rope,
                level,
                b.image_half(level),
            ),
            _ => None,
        },
        test_limited: two_way
            .filter(|_| verdict == Verdict::Inconclusive)
            .map(|b| b.image_half(level))
            .filter(|&floor| {
                let mean = adjusted.mean.abs();
                floor >= mean.max(rule.rope - mean)
            }),
        verdict,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(expect: Expect) -> Rule {
        Rule {
            expect,
            rope: 0.01,
            judge_loss: true,
            loss_tolerance: 1e-5,
            grad_tolerance: 1e-6,
        }
    }

    fn evidence(diffs: &[f64], family: usize) -> Evidence<'_> {
        let t = stats::t_interval(diffs);
        Evidence {
            train_per_class: 25,
            diffs,
            mean: t.mean,
            sd: t.sd,
            two_way: None,
            exactness: None,
            family,
        }
    }

    /// The rule on numbers alone: a clear effect is supported, its mirror contradicted, a tiny one
    /// equivalent, a noisy one inconclusive with a seeds hint above the seeds that ran; the family
    /// widens the interval that judges, not the plain one.
    #[test]
    fn verdicts_from_differences_alone() {
        let clear = [0.03, 0.031, 0.029, 0.032, 0.028];
        let row = judge(&rule(Expect::Higher), &evidence(&clear, 1));
        assert_eq!(row.verdict, Verdict::Supported);
        assert_eq!(row.agree, 5);
        assert!((row.p_flip - 2.0 / 32.0).abs() < 1e-12, "{}", row.p_flip);
        let row = judge(&rule(Expect::Lower), &evidence(&clear, 1));
        assert_eq!((row.verdict, row.agree), (Verdict::Contradicted, 0));

        let tiny = [0.001, -0.001, 0.0005, 0.0, -0.0005];
        let row = judge(&rule(Expect::Higher), &evidence(&tiny, 1));
        assert_eq!(row.verdict, Verdict::Equivalent);
        assert_eq!(row.seeds_needed, None);

        let noisy = [0.02, -0.015, 0.01, -0.005, 0.012];
        let one = judge(&rule(Expect::Higher), &evidence(&noisy, 1));
        let three = judge(&rule(Expect::Higher), &evidence(&noisy, 3));
        assert_eq!(one.verdict, Verdict::Inconclusive);
        assert!(one.seeds_needed.unwrap() > 5);
        assert_eq!(one.diff, three.diff, "the plain 95% interval is the same");
        assert!(three.adjusted.half > one.adjusted.half);
        assert!((three.p_adjusted - (3.0 * three.p_t).min(1.0)).abs() < 1e-12);
    }

    /// `identical` claims are judged by their gaps, not by an interval, and a loss gap that is not
    /// judged (`loss_epochs = 0`) cannot fail them.
    #[test]
    fn identity_is_judged_by_exactness() {
        let zeros = [0.0; 5];
        let with = |loss_gap, bias_grad, judge_loss| {
            let evidence = Evidence {
                exactness: Some(Exactness {
                    loss_gap,
                    bias_grad,
                }),
                ..evidence(&zeros, 1)
            };
            judge(
                &Rule {
                    judge_loss,
                    ..rule(Expect::Identical)
                },
                &evidence,
            )
        };
        assert_eq!(with(1e-7, 1e-9, true).verdict, Verdict::Supported);
        assert_eq!(with(1e-3, 1e-9, true).verdict, Verdict::Contradicted);
        assert_eq!(with(1e-3, 1e-9, false).verdict, Verdict::Supported);
        assert_eq!(with(1e-7, 1e-3, false).verdict, Verdict::Contradicted);
        assert!(with(1e-7, 1e-9, true).p_t.is_nan());
    }
}
