//! How numbers, intervals, p-values and verdicts read in the Markdown.

use ablate_spec::{Claim, Compare, Expect, Metric};

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

pub(crate) fn verdict_text(v: Verdict) -> &'static str {
    match v {
        Verdict::Supported => "**supported**",
        Verdict::Contradicted => "**contradicted**",
        Verdict::Equivalent => "**equivalent**",
        Verdict::Inconclusive => "inconclusive",
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
