//! The statistics the report states: t intervals over seeds and the verdict rule.
//!
//! Confidence intervals are Student-t intervals (two-sided, 95%) on the per-seed values; for a
//! contrast, on the per-seed *paired* differences, so the seed-to-seed variation that both variants
//! share (training subset, initialisation, batch order) cancels.

use ablate_spec::Expect;
use statrs::distribution::{ContinuousCDF, StudentsT};

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

/// The two-sided `LEVEL` quantile of Student's t with `dof` degrees of freedom.
pub fn t_quantile(dof: usize) -> f64 {
    let t = StudentsT::new(0.0, 1.0, dof as f64).expect("dof >= 1 is a valid t distribution");
    t.inverse_cdf(1.0 - (1.0 - LEVEL) / 2.0)
}

/// Half-width of the t interval from a sample's size and standard deviation.
pub fn half_width(n: usize, sd: f64) -> f64 {
    if n < 2 {
        return f64::INFINITY;
    }
    if sd == 0.0 {
        return 0.0;
    }
    t_quantile(n - 1) * sd / (n as f64).sqrt()
}

pub fn t_interval(values: &[f64]) -> Interval {
    let n = values.len();
    let mean = if n == 0 {
        f64::NAN
    } else {
        values.iter().sum::<f64>() / n as f64
    };
    let sd = if n < 2 {
        f64::NAN
    } else {
        (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
    };
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
    Inconclusive,
}

impl Verdict {
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Supported => "supported",
            Verdict::Contradicted => "contradicted",
            Verdict::Inconclusive => "inconclusive",
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

/// The exactness rule of `identical` claims: both measured gaps within their tolerances.
pub fn judge_identical(
    max_loss_gap: f64,
    loss_tolerance: f64,
    max_bias_grad: f64,
    grad_tolerance: f64,
) -> Verdict {
    if max_loss_gap <= loss_tolerance && max_bias_grad <= grad_tolerance {
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
                close(t_quantile(dof), t, 1e-4),
                "dof {dof}: {}",
                t_quantile(dof)
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
    fn identical_needs_both_gaps_within_tolerance() {
        assert_eq!(judge_identical(4e-7, 1e-5, 2e-8, 1e-6), Verdict::Supported);
        assert_eq!(
            judge_identical(3e-3, 1e-5, 2e-8, 1e-6),
            Verdict::Contradicted
        );
        assert_eq!(
            judge_identical(4e-7, 1e-5, 1e-3, 1e-6),
            Verdict::Contradicted
        );
    }
}
