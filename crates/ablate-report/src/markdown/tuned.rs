//! The tuned heads: per head family and size, the variant chosen on val, reported on test.

use std::fmt::Write as _;

use super::format::pct;
use crate::analysis::Analysis;

pub fn write(w: &mut String, analysis: &Analysis) {
    let tuned = &analysis.tuned;
    let _ = writeln!(
        w,
        "## Tuned heads: chosen on validation, reported on test\n"
    );
    let _ = writeln!(
        w,
        "Per head family and training size, the variant with the best mean validation accuracy over \
         the grid's settings (weight decay, dropout, input dropout, and the bias and ReLU switches), \
         with its accuracy on the test split, which took no part in the choice. Beside it, how far \
         ahead of the runner-up it was on val, and the standard error of its own val mean: a lead \
         smaller than that is a choice the seeds have not settled, so read its settings as one good \
         option, not as advice. Also in `tuned.csv`.\n"
    );
    let _ = writeln!(
        w,
        "| per class | head | chosen variant | chosen settings | val acc (chose) | lead over runner-up (val) | test acc | test 95% CI | train acc |"
    );
    let _ = writeln!(w, "|---|---|---|---|---|---|---|---|---|");
    for t in tuned {
        let (test, ci) = match &t.row.test {
            Some(i) => (pct(i.mean), format!("[{}, {}]", pct(i.lo()), pct(i.hi()))),
            None => ("no test split".into(), "—".into()),
        };
        let se = t.row.val.sd / (t.row.val.n as f64).sqrt();
        let lead = match &t.runner_up {
            Some((name, gap)) => format!(
                "{:.2} pp over `{name}` (SE {:.2} pp{})",
                gap * 100.0,
                se * 100.0,
                if *gap < se { ": not settled" } else { "" }
            ),
            None => "only variant".into(),
        };
        let _ = writeln!(
            w,
            "| {} | {} | `{}` | {} | {} | {lead} | {test} | {ci} | {} |",
            t.row.train_per_class,
            t.head,
            t.row.variant,
            t.chosen,
            pct(t.row.val.mean),
            pct(t.row.train.mean)
        );
    }
    let _ = writeln!(w);
}
