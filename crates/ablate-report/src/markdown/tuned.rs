//! The tuned heads: per head family and size, the variant chosen on val, reported on test.

use std::fmt::Write as _;

use super::format::pct;
use ablate_spec::Switch;

use crate::analysis::Analysis;
use crate::results::Results;

pub fn write(w: &mut String, results: &Results, analysis: &Analysis) {
    let tuned = &analysis.tuned;
    let swept: Vec<&str> = Switch::all()
        .filter(|s| results.experiment.config.grid.sweeps(*s))
        .map(|s| s.spec().label)
        .collect();
    let swept = if swept.is_empty() {
        "none: the grid sweeps no switch".to_string()
    } else {
        swept.join(", ")
    };
    let _ = writeln!(
        w,
        "## Tuned heads: chosen on validation, reported on test\n"
    );
    let _ = writeln!(
        w,
        "Per head family and training size, the variant with the best mean validation accuracy over \
         the grid's settings ({swept}), with its accuracy on the test split. The test accuracy here is \
         that of the variant chosen on every seed's val, measured on the same seeds, so it keeps a \
         little of their val luck (a seed's val and test errors correlate); the head comparison that \
         judges (the answer's table) is leave-one-seed-out instead. Beside it, how far ahead of the \
         runner-up it was on val, and the standard error of that lead over the paired seeds: a lead \
         smaller than that is a choice the seeds have not settled, so read its settings as one good \
         option, not as advice. ⚠ marks a chosen training setting at the end of its axis: the best \
         may lie beyond what the grid tried. Also in `tuned.csv`.\n"
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
        let lead = match &t.runner_up {
            Some(r) => format!(
                "{:.2} pp over `{}` (paired SE {:.2} pp{})",
                r.behind * 100.0,
                r.variant,
                r.se * 100.0,
                // An exact tie (SE 0) or one seed (NaN: the comparison is false) is not settled.
                if r.behind > r.se { "" } else { ": not settled" }
            ),
            None => "only variant".into(),
        };
        let edges = if t.edges.is_empty() {
            String::new()
        } else {
            format!(" ⚠ at the grid's edge: {}", t.edges.join(", "))
        };
        let _ = writeln!(
            w,
            "| {} | {} | `{}` | {}{edges} | {} | {lead} | {test} | {ci} | {} |",
            t.row.train_per_class,
            t.label(),
            t.row.variant,
            t.chosen,
            pct(t.row.val.mean),
            pct(t.row.train.mean)
        );
    }
    let _ = writeln!(w);
    confusions(w, results, analysis);
}

/// Per size, each tuned head's accuracy per class on test and the class it most often takes each
/// class for (confusion matrices summed over seeds; all of them in `confusion.csv`).
fn confusions(w: &mut String, results: &Results, analysis: &Analysis) {
    if analysis.confusions.is_empty() {
        return;
    }
    let names = results.class_names();
    let name = |c: usize| names.get(c).cloned().unwrap_or_else(|| c.to_string());
    let _ = writeln!(
        w,
        "### Per class on test: where the tuned heads go wrong\n\n\
         Each tuned head's accuracy on each class's test images and the class it most often takes \
         them for, over all its seeds (full confusion matrices in `confusion.csv`).\n"
    );
    for &size in &analysis.sizes {
        let at: Vec<_> = analysis
            .confusions
            .iter()
            .filter(|m| m.train_per_class == size)
            .collect();
        let Some(first) = at.first() else { continue };
        let _ = write!(w, "| {size}/class: true class |");
        for m in &at {
            let _ = write!(w, " {} `{}` |", m.head, m.variant);
        }
        let _ = writeln!(w, "\n|---|{}", "---|".repeat(at.len()));
        for c in 0..first.counts.len() {
            let _ = write!(w, "| {} |", name(c));
            for m in &at {
                let mistaken = m
                    .worst_confusion(c)
                    .map(|(p, share)| format!(" (as {}: {})", name(p), pct(share)))
                    .unwrap_or_default();
                let _ = write!(w, " {}{mistaken} |", pct(m.accuracy(c)));
            }
            let _ = writeln!(w);
        }
        let _ = writeln!(w);
    }
}
