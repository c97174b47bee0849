//! What to use: per size, the best variant, those tied with it, and the one rule that picks.

use std::fmt::Write as _;

use super::format::pct;
use crate::analysis::Analysis;
use crate::summary::VariantRow;

pub fn write(w: &mut String, analysis: &Analysis) {
    let picks = &analysis.picks;
    let _ = writeln!(w, "## What to use\n");
    let _ = writeln!(
        w,
        "Derived from the numbers, one rule: per training size, the variant with the best mean \
         validation accuracy (exact ties: the first in grid order); *tied* with it are the variants not \
         significantly worse, whose paired 95% interval of the difference to it contains 0 (a variant \
         whose interval excludes 0 is never tied, however small the gap; with few seeds most variants \
         are tied, so tied is not \"as good\"). **Use** the best, or the tied variant with the fewest \
         parameters when it has at most half the best's *and* its whole interval lies within ±1 \
         accuracy point of the best (equivalent, not merely not worse): then a much smaller head does \
         as well on val. A few parameters (a last-layer bias) are no reason to give up the best mean. Chosen \
         on validation; the test accuracy beside each is the unbiased estimate.\n"
    );
    let _ = writeln!(
        w,
        "| per class | best (val acc; test acc) | tied with it | use |"
    );
    let _ = writeln!(w, "|---|---|---|---|");
    let test_of = |r: &VariantRow| {
        r.test
            .as_ref()
            .map_or("no test split".to_string(), |t| pct(t.mean))
    };
    for p in picks {
        // Val chose; when test then disagrees by more than the margin, say so beside the choice.
        let caution = match (&p.best.test, &p.recommended.test) {
            (Some(best), Some(rec))
                if p.recommended.variant != p.best.variant
                    && best.mean - rec.mean > crate::choose::EQUIVALENCE =>
            {
                format!(
                    "; ⚠ on test {:.2} pp below the best, more than the ±1 pp val found: the smaller head's cost shows on test",
                    (best.mean - rec.mean) * 100.0
                )
            }
            _ => String::new(),
        };
        let _ = writeln!(
            w,
            "| {} | `{}` ({}; {}) | {} | `{}` ({}; {}; {} parameters{caution}) |",
            p.train_per_class,
            p.best.variant,
            pct(p.best.val.mean),
            test_of(&p.best),
            match p.tied.len() {
                0 => "none".to_string(),
                1 => format!("`{}`", p.tied[0].variant),
                n => format!("{n} variants"),
            },
            p.recommended.variant,
            pct(p.recommended.val.mean),
            test_of(&p.recommended),
            p.recommended.params
        );
    }
    let _ = writeln!(w);
}
