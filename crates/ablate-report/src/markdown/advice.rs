//! What to use: per size, the best variant, those tied with it, and the smallest of those.

use std::fmt::Write as _;

use super::format::pct;
use crate::analysis::Analysis;
use crate::summary::VariantRow;

pub fn write(w: &mut String, analysis: &Analysis) {
    let picks = &analysis.picks;
    let _ = writeln!(w, "## What to use\n");
    let _ = writeln!(
        w,
        "Derived from the numbers: per training size, the variant with the best mean validation accuracy; \
         the variants whose paired difference to it has a 95% CI containing 0 (statistically tied); and \
         the smallest of those, which is the one to use when the tie holds. Chosen on validation; the \
         test accuracy beside each is the unbiased estimate.\n"
    );
    let _ = writeln!(
        w,
        "| per class | best (val acc; test acc) | tied with it | use (fewest parameters among best and tied) |"
    );
    let _ = writeln!(w, "|---|---|---|---|");
    let test_of = |r: &VariantRow| {
        r.test
            .as_ref()
            .map_or("no test split".to_string(), |t| pct(t.mean))
    };
    for p in picks {
        let _ = writeln!(
            w,
            "| {} | `{}` ({}; {}) | {} | `{}` ({}; {}; {} parameters) |",
            p.train_per_class,
            p.best.variant,
            pct(p.best.val.mean),
            test_of(&p.best),
            match p.tied.len() {
                0 => "none".to_string(),
                1 => format!("`{}`", p.tied[0].variant),
                n => format!("{n} variants"),
            },
            p.smallest.variant,
            pct(p.smallest.val.mean),
            test_of(&p.smallest),
            p.smallest.params
        );
    }
    let _ = writeln!(w);
}
