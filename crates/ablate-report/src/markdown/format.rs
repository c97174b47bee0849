//! How numbers, intervals, p-values and verdicts read in the Markdown.

use ablate_spec::{Claim, Compare, Expect, Metric};

use crate::contrast::{ClaimRow, DETECTABLE_TARGET, FEW_SEEDS};
use crate::stats::Verdict;

pub(crate) fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

/// A difference in the claim's units: percentage points for accuracies.
pub(crate) fn diff_text(metric: Metric, x: f64) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    if metric.is_accuracy() {
        format!("{:+.2} pp", x * 100.0)
    } else if metric == Metric::Params {
        format!("{:+.0}", x)
    } else {
        format!("{:+.4}", x)
    }
}

pub(crate) fn ci_text(metric: Metric, lo: f64, hi: f64) -> String {
    if !(lo.is_finite() && hi.is_finite()) {
        return "n/a (one seed)".into();
    }
    format!("[{}, {}]", diff_text(metric, lo), diff_text(metric, hi))
}

pub(crate) fn p_text(p: f64) -> String {
    if p.is_finite() {
        format!("{p:.3}")
    } else {
        "—".into()
    }
}

pub(crate) fn margin_text(claim: &Claim) -> String {
    if claim.metric.is_accuracy() {
        format!("{} pp", claim.rope * 100.0)
    } else {
        format!("{}", claim.rope)
    }
}

/// The verdict of a row in words, with its direction and size: "**equivalent** within ±1 pp (small
/// effect +0.56 pp, against the claim)", "**supported** (-7.40 pp)", "inconclusive (~14 seeds ...)".
pub(crate) fn verdict_words(claim: &Claim, row: &ClaimRow) -> String {
    if claim.expect == Expect::Identical {
        return verdict_text(row.verdict).to_string();
    }
    let words = directional_words(claim, row);
    match few_seeds_note(row.diff.n) {
        Some(note) => format!("{words} ⚠ {note}"),
        None => words,
    }
}

/// With fewer than [`FEW_SEEDS`] seeds: how few, and the floor of the sign-flip test.
pub(crate) fn few_seeds_note(seeds: usize) -> Option<String> {
    (seeds < FEW_SEEDS).then(|| {
        format!(
            "only {seeds} seeds: their spread is itself uncertain (no seeds hint), and the sign-flip test cannot go below p = {}",
            p_text(2.0 / 2f64.powi(seeds as i32))
        )
    })
}

fn directional_words(claim: &Claim, row: &ClaimRow) -> String {
    let (metric, i) = (claim.metric, &row.adjusted);
    let effect = diff_text(metric, i.mean);
    match row.verdict {
        Verdict::Supported | Verdict::Contradicted => {
            format!("{} ({effect})", verdict_text(row.verdict))
        }
        Verdict::Equivalent => {
            let margin = margin_text(claim);
            if i.lo() > 0.0 || i.hi() < 0.0 {
                let expected = match claim.expect {
                    Expect::Lower => i.mean < 0.0,
                    _ => i.mean > 0.0,
                };
                let side = if expected { "for" } else { "against" };
                format!("**equivalent** within ±{margin} (small effect {effect}, {side} the claim)")
            } else {
                format!("**equivalent** within ±{margin}")
            }
        }
        Verdict::Unmeasured => format!(
            "not measured: {}",
            row.degenerate.map_or("no measurement", |d| d.words())
        ),
        Verdict::Inconclusive if row.diff.n < FEW_SEEDS => "inconclusive".into(),
        Verdict::Inconclusive => match row.seeds_needed {
            Some(n) if n > 100 => format!(
                "inconclusive (more seeds are unlikely to settle it: over 100 needed at this mean and spread; margin ±{})",
                margin_text(claim)
            ),
            Some(n) => format!(
                "inconclusive (~{n} seeds would settle it, {}, if mean and spread hold; margin ±{})",
                // The nearer of the two ways out: fit inside the margin, or exclude 0.
                if claim.rope - i.mean.abs() > i.mean.abs() {
                    "toward equivalence"
                } else {
                    "toward a difference"
                },
                margin_text(claim)
            ),
            None => match row.test_limited {
                Some(floor) => format!(
                    "inconclusive (at this mean, more seeds alone will not settle it: the test split's own noise, ±{}, is larger than the effect or the room left in the margin; a larger test split would)",
                    diff_text(metric, floor).trim_start_matches('+')
                ),
                None => "inconclusive".into(),
            },
        },
    }
}

pub(crate) fn verdict_text(v: Verdict) -> &'static str {
    match v {
        Verdict::Supported => "**supported**",
        Verdict::Contradicted => "**contradicted**",
        Verdict::Equivalent => "**equivalent**",
        Verdict::Inconclusive => "inconclusive",
        Verdict::Unmeasured => "not measured",
    }
}

/// "supported / equivalent": the verdicts at half and at twice the margin, "—" where there are none.
pub(crate) fn sensitivity_text(row: &ClaimRow) -> String {
    row.sensitivity.map_or("—".into(), |s| {
        format!("{} / {}", s.half_margin.as_str(), s.twice_margin.as_str())
    })
}

/// The smallest effect the row could have detected, and the seeds that would bring it to 1 pp.
pub(crate) fn detectable_text(metric: Metric, row: &ClaimRow) -> String {
    let Some(d) = row.detectable else {
        return "—".into();
    };
    let effect = diff_text(metric, d);
    let effect = effect.trim_start_matches('+');
    if !metric.is_accuracy() || d <= DETECTABLE_TARGET {
        return format!("±{effect}");
    }
    match row.seeds_for_detectable {
        Some(n) => format!("±{effect} (±1 pp at ~{n} seeds)"),
        None if row.diff.n < FEW_SEEDS => format!("±{effect}"),
        None => format!("±{effect} (not 1 pp with this test split)"),
    }
}

/// "5/8" seeds on the claim's side, with ties said apart: "4/8, 1 tie".
pub(crate) fn agree_text(row: &ClaimRow) -> String {
    match row.ties {
        0 => format!("{}/{}", row.agree, row.diff.n),
        1 => format!("{}/{}, 1 tie", row.agree, row.diff.n),
        t => format!("{}/{}, {t} ties", row.agree, row.diff.n),
    }
}

pub(crate) fn contrast_text(claim: &Claim) -> String {
    if claim.expect == Expect::Identical {
        return format!(
            "training curves of ({}) vs ({})",
            claim.a.describe(),
            claim.b.describe()
        );
    }
    let (a, b) = (claim.a.describe(), claim.b.describe());
    let (a, b) = match claim.compare {
        Compare::All => (format!("({a})"), format!("({b})")),
        Compare::Best => (format!("({a})"), format!("best of ({b})")),
        Compare::Tuned => (format!("tuned ({a})"), format!("tuned ({b})")),
    };
    format!("{} of {a} − {b}", claim.metric.column())
}
