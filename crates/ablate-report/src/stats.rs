//! The statistics the report states: t intervals over seeds and the verdict rule.
//!
//! Confidence intervals are Student-t intervals (two-sided, 95%) on the per-seed values; for a
//! contrast, on the per-seed *paired* differences, so the seed-to-seed variation that both variants
//! share (training subset, initialisation, batch order) cancels.

use ablate_spec::Expect;
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

pub const LEVEL: f64 = 0.95;

/// Mean, spread and 95% t interval of a sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (n - 1 in the denominator); NaN below two values.
    pub sd: f64,
    /// Half-width of the 95% interval; infinite below two values (no spread to estimate).
    pub half: f64,
}

impl Interval {
    pub fn lo(&self) -> f64 {
        self.mean - self.half
    }
    pub fn hi(&self) -> f64 {
        self.mean + self.half
    }
}

/// The two-sided `level` quantile of Student's t with `dof` degrees of freedom.
pub fn t_quantile_at(dof: usize, level: f64) -> f64 {
    t_quantile(dof, 1.0 - (1.0 - level) / 2.0)
}

/// The `q` quantile of Student's t with `dof` degrees of freedom.
pub fn t_quantile(dof: usize, q: f64) -> f64 {
    StudentsT::new(0.0, 1.0, dof as f64)
        .expect("dof >= 1 is a valid t distribution")
        .inverse_cdf(q)
}

/// The `q` quantile of the standard normal.
pub fn normal_quantile(q: f64) -> f64 {
    Normal::standard().inverse_cdf(q)
}

/// The mean; NaN of nothing.
pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        f64::NAN
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

/// The sample variance about `mean` (n - 1 in the denominator); NaN below two values.
pub fn sample_var(values: &[f64], mean: f64) -> f64 {
    if values.len() < 2 {
        return f64::NAN;
    }
    values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (values.len() - 1) as f64
}

/// Half-width of the 95% t interval from a sample's size and standard deviation.
pub fn half_width(n: usize, sd: f64) -> f64 {
    half_width_at(n, sd, LEVEL)
}

/// Half-width of the `level` t interval from a sample's size and standard deviation.
pub fn half_width_at(n: usize, sd: f64, level: f64) -> f64 {
    if n < 2 {
        return f64::INFINITY;
    }
    if sd == 0.0 {
        return 0.0;
    }
    t_quantile_at(n - 1, level) * sd / (n as f64).sqrt()
}

/// The level of each of `family` intervals that hold together at `LEVEL` (Bonferroni): a claim
/// judged at k training sizes gets k intervals at 1 - 0.05/k, so the chance that any of them
/// misses is at most 5%.
pub fn family_level(family: usize) -> f64 {
    1.0 - (1.0 - LEVEL) / family.max(1) as f64
}

pub fn t_interval(values: &[f64]) -> Interval {
    let n = values.len();
    let mean = mean(values);
    let sd = sample_var(values, mean).sqrt();
    Interval {
        n,
        mean,
        sd,
        half: half_width(n, sd),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Supported,
    Contradicted,
    /// The whole interval lies within the claim's margin (`rope`): no difference that matters.
    Equivalent,
    Inconclusive,
    /// No measurement to judge (both sides at a ceiling, or no spread): the row says why.
    Unmeasured,
    /// The claim's own interval excludes 0, but the row fails a test it must also pass to be
    /// called supported or contradicted: Holm over every judged row of the report, or the exact
    /// sign-flip test (which with few seeds cannot reach 5% at all). A lead to follow up, in the
    /// direction [`Direction`] names.
    Suggestive,
}

/// Which way a row's judged interval points, where it excludes 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// On the side the claim predicts.
    ForTheClaim,
    /// On the other side.
    AgainstTheClaim,
}

impl Direction {
    /// The side `interval` lies on for a claim expecting `expect`; `None` where it contains 0 or
    /// is not finite, and for identity claims (judged by exactness, not by a side).
    pub fn of(interval: &Interval, expect: Expect) -> Option<Direction> {
        let sign = match expect {
            Expect::Higher => 1.0,
            Expect::Lower => -1.0,
            Expect::Identical => return None,
        };
        let (lo, hi) = (interval.lo(), interval.hi());
        if !(lo.is_finite() && hi.is_finite()) || (lo <= 0.0 && hi >= 0.0) {
            return None;
        }
        Some(if interval.mean * sign > 0.0 {
            Direction::ForTheClaim
        } else {
            Direction::AgainstTheClaim
        })
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Direction::ForTheClaim => "for",
            Direction::AgainstTheClaim => "against",
        }
    }
}

/// The level every test a firm verdict must pass is read at.
pub const ALPHA: f64 = 1.0 - LEVEL;

/// Whether a row whose interval excludes 0 also passes the table-wide tests: Holm over every
/// judged row (`p_holm`) and the exact sign-flip test (`p_flip`). Either one failing (or missing,
/// where a row was judged without the rest of its table) makes a supported or contradicted row
/// [`Verdict::Suggestive`].
pub fn passes_table_tests(p_holm: Option<f64>, p_flip: f64) -> bool {
    // A sign-flip p that could not be computed (more than 24 seeds) leaves the t test alone.
    p_holm.is_some_and(|p| p <= ALPHA) && (p_flip.is_nan() || p_flip <= ALPHA)
}

impl Verdict {
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Supported => "supported",
            Verdict::Contradicted => "contradicted",
            Verdict::Equivalent => "equivalent",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Unmeasured => "not measured",
            Verdict::Suggestive => "suggestive",
        }
    }
}

/// The rule written in the report: supported when the interval excludes 0 on the expected side,
/// contradicted when it excludes 0 on the other side, inconclusive when it contains 0.
pub fn judge_direction(interval: &Interval, expect: Expect) -> Verdict {
    let sign = match expect {
        Expect::Higher => 1.0,
        Expect::Lower => -1.0,
        Expect::Identical => unreachable!("identical claims are judged by exactness"),
    };
    let (a, b) = (sign * interval.lo(), sign * interval.hi());
    let (lo, hi) = (a.min(b), a.max(b));
    if !(lo.is_finite() && hi.is_finite()) {
        Verdict::Inconclusive
    } else if lo > 0.0 {
        Verdict::Supported
    } else if hi < 0.0 {
        Verdict::Contradicted
    } else {
        Verdict::Inconclusive
    }
}

/// The margin rule, checked first: an interval inside (-rope, rope) means the difference is too small
/// to matter, whichever side of 0 it lies on.
pub fn within_margin(interval: &Interval, rope: f64) -> bool {
    interval.lo().is_finite()
        && interval.hi().is_finite()
        && interval.lo() > -rope
        && interval.hi() < rope
}

#[cfg(test)]
/// Two-sided p-value of the paired t test (the test the interval inverts).
pub fn t_test_p(interval: &Interval) -> f64 {
    if interval.n < 2 || !interval.sd.is_finite() {
        return 1.0;
    }
    if interval.sd == 0.0 {
        return if interval.mean == 0.0 { 1.0 } else { 0.0 };
    }
    let t = interval.mean / (interval.sd / (interval.n as f64).sqrt());
    let dist = StudentsT::new(0.0, 1.0, (interval.n - 1) as f64).expect("dof >= 1");
    2.0 * (1.0 - dist.cdf(t.abs()))
}

/// Exact two-sided sign-flip permutation test of the mean paired difference: the share of the 2^n
/// sign assignments whose |sum| is at least the observed one. Assumes only that each difference is
/// symmetric about 0 under "no effect"; with n seeds the smallest possible p is 2 / 2^n (0.0625 at 5).
pub fn sign_flip_p(diffs: &[f64]) -> f64 {
    let n = diffs.len();
    if n == 0 || n > 24 {
        // 2^24 sums is the most this exact test does; more seeds than that never occur in a grid.
        return f64::NAN;
    }
    let observed = diffs.iter().sum::<f64>().abs();
    // A relative tolerance, so a flip that reproduces the observed sum in another order counts.
    let tol = 1e-12 * diffs.iter().map(|d| d.abs()).sum::<f64>();
    let mut extreme = 0u64;
    for mask in 0u64..(1 << n) {
        let sum: f64 = diffs
            .iter()
            .enumerate()
            .map(|(i, d)| if mask >> i & 1 == 1 { -d } else { *d })
            .sum();
        if sum.abs() >= observed - tol {
            extreme += 1;
        }
    }
    extreme as f64 / (1u64 << n) as f64
}

/// The exactness rule of `identical` claims: both measured gaps within their tolerances (the loss
/// gap only where it is judged).
pub fn judge_identical(
    max_loss_gap: Option<f64>,
    loss_tolerance: f64,
    max_bias_grad: f64,
    grad_tolerance: f64,
) -> Verdict {
    if max_loss_gap.is_none_or(|gap| gap <= loss_tolerance) && max_bias_grad <= grad_tolerance {
        Verdict::Supported
    } else {
        Verdict::Contradicted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn t_quantiles_match_the_tables() {
        // Two-sided 95% critical values from any t table.
        for (dof, t) in [(1, 12.7062), (4, 2.7764), (9, 2.2622), (30, 2.0423)] {
            assert!(
                close(t_quantile_at(dof, LEVEL), t, 1e-4),
                "dof {dof}: {}",
                t_quantile_at(dof, LEVEL)
            );
        }
    }

    #[test]
    fn interval_of_a_known_sample() {
        // 1..=5: mean 3, sd sqrt(2.5), half = 2.7764 * sqrt(2.5) / sqrt(5) = 1.9632.
        let i = t_interval(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(i.n, 5);
        assert!(close(i.mean, 3.0, 1e-12));
        assert!(close(i.sd, 2.5f64.sqrt(), 1e-12));
        assert!(close(i.half, 1.96324, 1e-4), "{}", i.half);
        assert!(t_interval(&[0.7]).half.is_infinite());
        assert_eq!(t_interval(&[2.0, 2.0, 2.0]).half, 0.0);
    }

    /// Constructed contrasts, each built to get one verdict.
    #[test]
    fn verdicts_follow_the_written_rule() {
        let cases: &[(&[f64], Expect, Verdict)] = &[
            (
                &[0.02, 0.03, 0.025, 0.018, 0.022],
                Expect::Higher,
                Verdict::Supported,
            ),
            (
                &[0.02, 0.03, 0.025, 0.018, 0.022],
                Expect::Lower,
                Verdict::Contradicted,
            ),
            (
                &[-0.02, -0.03, -0.025, -0.018, -0.022],
                Expect::Lower,
                Verdict::Supported,
            ),
            (
                &[0.02, -0.03, 0.01, -0.01, 0.005],
                Expect::Higher,
                Verdict::Inconclusive,
            ),
            (
                &[0.02, -0.03, 0.01, -0.01, 0.005],
                Expect::Lower,
                Verdict::Inconclusive,
            ),
            // Deterministic differences (parameter counts): zero-width interval away from 0.
            (
                &[-5000.0, -5000.0, -5000.0],
                Expect::Lower,
                Verdict::Supported,
            ),
            // One seed: no interval, no verdict.
            (&[0.5], Expect::Higher, Verdict::Inconclusive),
        ];
        for (diffs, expect, verdict) in cases {
            assert_eq!(
                judge_direction(&t_interval(diffs), *expect),
                *verdict,
                "{diffs:?} {expect:?}"
            );
        }
    }

    #[test]
    fn p_values_match_independent_computations() {
        // Exact sign-flip p-values enumerated independently (Python, itertools.product).
        assert_eq!(sign_flip_p(&[1.0, 2.0, 3.0, 4.0, 5.0]), 0.0625);
        assert_eq!(sign_flip_p(&[1.0, 2.0, 3.0, 4.0, -5.0]), 0.625);
        assert_eq!(sign_flip_p(&[0.3, -0.1, 0.5, 0.2, 0.4, 0.1]), 0.09375);
        // Paired t test of 1..=5 against 0: t = 4.2426 with 4 dof, p = 0.013236 (numerical integration).
        let p = t_test_p(&t_interval(&[1.0, 2.0, 3.0, 4.0, 5.0]));
        assert!(close(p, 0.0132356, 1e-5), "{p}");
        assert_eq!(t_test_p(&t_interval(&[-7.0, -7.0, -7.0])), 0.0);
    }

    #[test]
    fn seeds_needed_and_margin() {
        // Five differences of sd 0.02 exactly: sd 0.02, margin 0.01: t(16) 2.1199 * 0.02 /
        // sqrt(17) = 0.01028 (not yet), t(17) 2.1098 * 0.02 / sqrt(18) = 0.009946 -> 18 seeds.
        let z = [-1.2, 0.4, 1.1, -0.6, 0.3];
        let m = z.iter().sum::<f64>() / 5.0;
        let sd = (z.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / 4.0).sqrt();
        let diffs: Vec<f64> = z.iter().map(|v| (v - m) / sd * 0.02).collect();
        let spread = crate::spread::Spread::over_seeds(&diffs);
        assert_eq!(
            spread.seeds_for(0.01, |s, n| s.half_with(n, LEVEL)),
            Some(18)
        );
        let tight = t_interval(&[0.002, -0.001, 0.001, 0.0, 0.003]);
        assert!(within_margin(&tight, 0.01));
        let wide = t_interval(&[0.02, -0.03, 0.01, -0.01, 0.005]);
        assert!(!within_margin(&wide, 0.01));
    }

    #[test]
    fn identical_needs_both_gaps_within_tolerance() {
        let table = [
            (Some(4e-7), 2e-8, Verdict::Supported),
            (Some(3e-3), 2e-8, Verdict::Contradicted),
            (Some(4e-7), 1e-3, Verdict::Contradicted),
            // Losses not judged (`loss_epochs = 0`): the gradient alone decides.
            (None, 2e-8, Verdict::Supported),
            (None, 1e-3, Verdict::Contradicted),
        ];
        for (loss, grad, verdict) in table {
            assert_eq!(
                judge_identical(loss, 1e-5, grad, 1e-6),
                verdict,
                "{loss:?} {grad}"
            );
        }
    }
}
