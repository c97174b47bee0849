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
         equivalence or a lead smaller than the margin is no reason to pay for the larger head. Advice \
         here is never stronger than the verdict beside it. The accuracies beside each option are \
         those of the variant chosen on every seed's validation; the comparison that decides is the \
         one named under *compared*.\n"
    );
    let _ = writeln!(
        w,
        "| per class | larger option (val; test) | cheaper option (val; test) | compared | use | why |"
    );
    let _ = writeln!(w, "|---|---|---|---|---|---|");
    let accs = |r: &VariantRow| {
        format!(
            "{}; {}",
            pct(r.val.mean),
            r.test
                .as_ref()
                .map_or("no test split".to_string(), |t| pct(t.mean))
        )
    };
    for p in picks {
        let cheaper = match &p.cheaper {
            Some(c) => format!("`{}` ({}; {} parameters)", c.variant, accs(c), c.params),
            None => "none".into(),
        };
        let _ = writeln!(
            w,
            "| {} | `{}` ({}; {} parameters) | {cheaper} | {} | `{}` | {} |",
            p.train_per_class,
            p.larger.variant,
            accs(&p.larger),
            p.larger.params,
            if p.lead.is_empty() { "—" } else { &p.lead },
            p.recommended.variant,
            p.why
        );
    }
    let _ = writeln!(w);
}
