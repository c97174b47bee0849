//! What to use: per size, the cheaper option unless the larger is clearly better, and why.

use std::fmt::Write as _;

use super::format::pct;
use crate::analysis::Analysis;
use crate::results::Results;
use crate::summary::VariantRow;

pub fn write(w: &mut String, results: &Results, analysis: &Analysis) {
    let picks = &analysis.picks;
    let _ = writeln!(w, "## What to use\n");
    let by_claim = results
        .experiment
        .answer_claim()
        .filter(|c| c.compare == ablate_spec::Compare::Tuned && c.a.head != c.b.head)
        .map(|c| c.id.clone());
    let rule = match &by_claim {
        Some(id) => format!(
            "the two heads tuned on val, weighed on the [{id}](#{}) row of the same size (leave-one-seed-out, \
             its interval and margin)",
            super::answer::anchor(id)
        ),
        None => "the variant of best mean validation accuracy, weighed against the best on val among the \
                 variants with at most half its parameters (their paired interval on val, margin ±1 \
                 accuracy point)"
            .to_string(),
    };
    let _ = writeln!(
        w,
        "One rule, stated before the results: per training size, {rule}. **Use the cheaper option unless \
         the larger is better by more than the margin with an interval that excludes 0**: a tie, an \
         equivalence or a lead smaller than the margin is no reason to pay for the larger head; where \
         the larger is significantly ahead but its interval reaches past the margin, both are named, \
         since the data do not say whether the gap matters. Advice here is never stronger than the \
         verdict beside it. With an answer claim the accuracies beside each option are its \
         leave-one-seed-out ones (marked *LOSO*: the numbers the answer's table shows, whose \
         difference is *compared*); otherwise those of the variant chosen on every seed's \
         validation.\n"
    );
    let _ = writeln!(
        w,
        "| per class | larger option (val; test) | cheaper option (val; test) | compared | use | why |"
    );
    let _ = writeln!(w, "|---|---|---|---|---|---|");
    let accs = |r: &VariantRow, loso: Option<f64>| match loso {
        Some(acc) => format!("{}; {} LOSO", pct(r.val.mean), pct(acc)),
        None => format!(
            "{}; {}",
            pct(r.val.mean),
            r.test
                .as_ref()
                .map_or("no test split".to_string(), |t| pct(t.mean))
        ),
    };
    for p in picks {
        let cheaper = match &p.cheaper {
            Some(c) => format!(
                "`{}` ({}; {} parameters)",
                c.variant,
                accs(c, p.loso.map(|l| l.1)),
                c.params
            ),
            None => "none".into(),
        };
        let _ = writeln!(
            w,
            "| {} | `{}` ({}; {} parameters) | {cheaper} | {} | {} | {} |",
            p.train_per_class,
            p.larger.variant,
            accs(&p.larger, p.loso.map(|l| l.0)),
            p.larger.params,
            if p.lead.is_empty() { "—" } else { &p.lead },
            if p.open {
                format!("`{}` or `{}`", p.recommended.variant, p.larger.variant)
            } else {
                format!("`{}`", p.recommended.variant)
            },
            p.why
        );
    }
    let _ = writeln!(w);
}
