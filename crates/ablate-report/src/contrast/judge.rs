//! The verdict rule, as a pure function: one training size's per-seed differences (and, for test
//! accuracy, its spread over seeds and test images; for `identical` claims, the
//! exactness gaps) in, one [`ClaimRow`] out. No polars: the rule is tested on numbers alone.

use ablate_spec::{Claim, Expect};

use super::ClaimRow;
use crate::spread::Spread;
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
    /// An accuracy-like metric (a difference with no spread over seeds is then no measurement;
    /// a parameter count with none is exact).
    pub metric_is_accuracy: bool,
    /// A count, not a measurement (parameters): exact, so no p-value, power or margin
    /// sensitivity; the verdict reads its (zero-width) interval.
    pub exact_metric: bool,
}

impl Rule {
    pub fn of(claim: &Claim) -> Self {
        Rule {
            expect: claim.expect,
            rope: claim.rope,
            judge_loss: claim.loss_epochs != Some(0),
            loss_tolerance: claim.loss_tolerance,
            grad_tolerance: claim.grad_tolerance,
            metric_is_accuracy: claim.metric.is_accuracy(),
            exact_metric: claim.metric == ablate_spec::Metric::Params,
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
    /// The spread the intervals read: over seeds, and for test accuracy with recorded predictions
    /// over seeds and test images.
    pub spread: &'a Spread,
    /// `identical` claims.
    pub exactness: Option<Exactness>,
    /// Both sides at the metric's ceiling (100%) in every seed: nothing to measure.
    pub at_ceiling: bool,
    /// Sizes the claim is judged at: its intervals hold together over them (Bonferroni).
    pub family: usize,
}

/// Below this many seeds the seed-to-seed spread is itself too uncertain for a seeds hint (with 3
/// seeds the estimated sd is off by a factor 0.5 to 6 at 95%), and the sign-flip test's smallest
/// p-value is at least 2 / 2^n = 0.125 at 4 seeds.
pub const FEW_SEEDS: usize = 5;

/// Why a row has no verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Degenerate {
    /// Both sides at 100% in every seed: a ceiling, not a measurement.
    Ceiling,
    /// The same difference in every seed and no test images to resample: no spread to judge by.
    NoSpread,
}

impl Degenerate {
    pub fn words(&self) -> &'static str {
        match self {
            Degenerate::Ceiling => {
                "both sides at 100% in every seed: a ceiling, not a measurement (neither can fit better)"
            }
            Degenerate::NoSpread => {
                "the same difference in every seed and no test images to resample: no spread to judge it by"
            }
        }
    }
}

/// The verdict at `rope` on an interval of half-width `half` about `mean`.
fn verdict_at(rule: &Rule, mean: f64, half: f64, n: usize, rope: f64) -> Verdict {
    let interval = Interval {
        n,
        mean,
        sd: f64::NAN,
        half,
    };
    if stats::within_margin(&interval, rope) {
        Verdict::Equivalent
    } else {
        stats::judge_direction(&interval, rule.expect)
    }
}

/// Judges one size. The row's `opponent` and `chosen` are the caller's (they come from pairing).
pub fn judge(rule: &Rule, evidence: &Evidence) -> ClaimRow {
    let n = evidence.diffs.len();
    let level = stats::family_level(evidence.family);
    let spread = evidence.spread;
    let diff = Interval {
        n,
        mean: spread.mean,
        sd: spread.seed_sd(),
        half: spread.half(stats::LEVEL),
    };
    let adjusted = Interval {
        half: spread.half(level),
        ..diff
    };
    let directional = rule.expect != Expect::Identical;
    // Statistics of a measurement: not for `identical` claims, nor for exact counts.
    let measured = directional && !rule.exact_metric;
    let degenerate = if !directional {
        None
    } else if evidence.at_ceiling {
        Some(Degenerate::Ceiling)
    } else if spread.se() == 0.0
        && spread.images().is_none()
        && spread.mean != 0.0
        && rule.metric_is_accuracy
    {
        Some(Degenerate::NoSpread)
    } else {
        None
    };
    let verdict = match (rule.expect, evidence.exactness, degenerate) {
        (Expect::Identical, Some(exact), _) => stats::judge_identical(
            rule.judge_loss.then_some(exact.loss_gap),
            rule.loss_tolerance,
            exact.bias_grad,
            rule.grad_tolerance,
        ),
        (_, _, Some(_)) => Verdict::Unmeasured,
        _ => verdict_at(rule, adjusted.mean, adjusted.half, n, rule.rope),
    };
    let sensitivity = (measured && degenerate.is_none()).then(|| Sensitivity {
        half_margin: verdict_at(rule, adjusted.mean, adjusted.half, n, rule.rope / 2.0),
        twice_margin: verdict_at(rule, adjusted.mean, adjusted.half, n, rule.rope * 2.0),
    });
    let tested = measured && degenerate.is_none();
    let p_value = if tested { spread.p_value() } else { f64::NAN };
    let sign = rule.sign();
    // What would settle an inconclusive row: the interval (the same formula at more seeds) must
    // exclude 0 or fit inside the margin, if the observed mean and spread held.
    let target = {
        let m = adjusted.mean.abs();
        m.max(rule.rope - m)
    };
    let enough_seeds = n >= FEW_SEEDS;
    let seeds_needed = (verdict == Verdict::Inconclusive && enough_seeds)
        .then(|| spread.seeds_for(target, |s, k| s.half_with(k, level)))
        .flatten();
    let floor = spread.image_floor(level);
    ClaimRow {
        train_per_class: evidence.train_per_class,
        diff,
        adjusted,
        spread: spread.clone(),
        level,
        sides: (f64::NAN, f64::NAN),
        agree: evidence.diffs.iter().filter(|d| **d * sign > 0.0).count(),
        ties: evidence.diffs.iter().filter(|d| **d == 0.0).count(),
        opponent: None,
        chosen: None,
        stable_folds: None,
        exactness: evidence.exactness,
        p_value,
        p_flip: if tested {
            stats::sign_flip_p(evidence.diffs)
        } else {
            f64::NAN
        },
        p_adjusted: (p_value * evidence.family as f64).min(1.0),
        p_holm: None,
        test_images: spread.images().map(|p| p.images),
        image_half: spread.images().map(|_| spread.image_half(stats::LEVEL)),
        detectable: (measured && degenerate.is_none()).then(|| spread.detectable(level)),
        // Only where the detectable effect is above one accuracy point: elsewhere it already is.
        seeds_for_detectable: (measured
            && degenerate.is_none()
            && enough_seeds
            && rule.metric_is_accuracy
            && spread.detectable(level) > DETECTABLE_TARGET)
            .then(|| spread.seeds_for(DETECTABLE_TARGET, |s, k| s.detectable_with(k, level)))
            .flatten(),
        seeds_needed,
        test_limited: (verdict == Verdict::Inconclusive
            && spread.images().is_some()
            && floor >= target)
            .then_some(floor),
        sensitivity,
        degenerate,
        verdict,
    }
}

/// The detectable effect the report asks seeds for: one accuracy point.
pub const DETECTABLE_TARGET: f64 = 0.01;

/// A judged row's verdict at half and at twice its margin: how much the margin decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sensitivity {
    pub half_margin: Verdict,
    pub twice_margin: Verdict,
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
            metric_is_accuracy: true,
            exact_metric: false,
        }
    }

    fn evidence<'a>(diffs: &'a [f64], spread: &'a Spread, family: usize) -> Evidence<'a> {
        Evidence {
            train_per_class: 25,
            diffs,
            spread,
            exactness: None,
            at_ceiling: false,
            family,
        }
    }

    fn judged(expect: Expect, diffs: &[f64], family: usize) -> ClaimRow {
        let spread = Spread::over_seeds(diffs);
        judge(&rule(expect), &evidence(diffs, &spread, family))
    }

    /// The rule on numbers alone: a clear effect is supported, its mirror contradicted, a tiny one
    /// equivalent, a noisy one inconclusive with a seeds hint above the seeds that ran; the family
    /// widens the interval that judges, not the plain one.
    #[test]
    fn verdicts_from_differences_alone() {
        let clear = [0.03, 0.031, 0.029, 0.032, 0.028];
        let row = judged(Expect::Higher, &clear, 1);
        assert_eq!(row.verdict, Verdict::Supported);
        assert_eq!(row.agree, 5);
        assert!((row.p_flip - 2.0 / 32.0).abs() < 1e-12, "{}", row.p_flip);
        let row = judged(Expect::Lower, &clear, 1);
        assert_eq!((row.verdict, row.agree), (Verdict::Contradicted, 0));

        let tiny = [0.001, -0.001, 0.0005, 0.0, -0.0005];
        let row = judged(Expect::Higher, &tiny, 1);
        assert_eq!(row.verdict, Verdict::Equivalent);
        assert_eq!(row.seeds_needed, None);
        assert_eq!(row.ties, 1);

        let noisy = [0.02, -0.015, 0.01, -0.005, 0.012];
        let one = judged(Expect::Higher, &noisy, 1);
        let three = judged(Expect::Higher, &noisy, 3);
        assert_eq!(one.verdict, Verdict::Inconclusive);
        assert!(one.seeds_needed.unwrap() > 5);
        assert_eq!(one.diff, three.diff, "the plain 95% interval is the same");
        assert!(three.adjusted.half > one.adjusted.half);
        assert!((three.p_adjusted - (3.0 * three.p_value).min(1.0)).abs() < 1e-12);
        // The detectable effect is the same spread at 80% power: above the half-width.
        assert!(one.detectable.unwrap() > one.adjusted.half);
        // At half and twice the margin: a 1.1 pp effect measured at +-0.2 pp is inside +-2 pp.
        let near = [0.011, 0.012, 0.010, 0.011, 0.011];
        let row = judged(Expect::Higher, &near, 1);
        let s = row.sensitivity.unwrap();
        assert_eq!(
            (row.verdict, s.half_margin, s.twice_margin),
            (Verdict::Supported, Verdict::Supported, Verdict::Equivalent)
        );
    }

    /// Fewer than five seeds: no seeds hint (the spread is itself too uncertain), whatever the
    /// verdict; a ceiling is no measurement; nor is an accuracy difference with no spread.
    #[test]
    fn few_seeds_ceilings_and_no_spread() {
        let noisy = [0.02, -0.015, 0.01];
        let row = judged(Expect::Higher, &noisy, 1);
        assert_eq!(row.verdict, Verdict::Inconclusive);
        assert_eq!((row.seeds_needed, row.seeds_for_detectable), (None, None));

        let zeros = [0.0; 5];
        let spread = Spread::over_seeds(&zeros);
        let row = judge(
            &rule(Expect::Lower),
            &Evidence {
                at_ceiling: true,
                ..evidence(&zeros, &spread, 1)
            },
        );
        assert_eq!(row.verdict, Verdict::Unmeasured);
        assert_eq!(row.degenerate, Some(Degenerate::Ceiling));
        assert_eq!((row.sensitivity, row.detectable), (None, None));

        let same = [-0.01, -0.01];
        let row = judged(Expect::Higher, &same, 1);
        assert_eq!(row.degenerate, Some(Degenerate::NoSpread));
        assert_eq!(row.verdict, Verdict::Unmeasured);
    }

    /// Verdict and hint agree on every row: an inconclusive row never asks for as many seeds as
    /// ran or fewer, and a row the hint would settle at the seeds that ran is not inconclusive.
    #[test]
    fn verdict_and_seeds_hint_agree() {
        for k in 0..400 {
            let x = k as f64;
            let diffs: Vec<f64> = (0..6)
                .map(|i| 0.004 * ((x * 0.37 + i as f64 * 1.3).sin()) + 0.00002 * x)
                .collect();
            for family in [1, 3] {
                let row = judged(Expect::Higher, &diffs, family);
                if let Some(needed) = row.seeds_needed {
                    assert_eq!(row.verdict, Verdict::Inconclusive);
                    assert!(needed > diffs.len(), "{diffs:?}: asks {needed}");
                }
            }
        }
    }

    /// `identical` claims are judged by their gaps, not by an interval, and a loss gap that is not
    /// judged (`loss_epochs = 0`) cannot fail them.
    #[test]
    fn identity_is_judged_by_exactness() {
        let zeros = [0.0; 5];
        let with = |loss_gap, bias_grad, judge_loss| {
            let spread = Spread::over_seeds(&zeros);
            let evidence = Evidence {
                exactness: Some(Exactness {
                    loss_gap,
                    bias_grad,
                }),
                ..evidence(&zeros, &spread, 1)
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
        assert!(with(1e-7, 1e-9, true).p_value.is_nan());
    }
}
