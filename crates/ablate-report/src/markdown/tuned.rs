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
         judges (the answer's table) is leave-one-seed-out instead, and its number is in the *LOSO* column \
         (the same in tuned.csv's `loso_acc_mean`), so every place that shows a tuned head's accuracy \
         shows one of these two, named. Beside it, how far ahead of the \
         runner-up it was on val, and the standard error of that lead over the paired seeds: a lead \
         smaller than that is a choice the seeds have not settled, so read its settings as one good \
         option, not as advice. ⚠ marks a chosen training setting at the end of its axis: the best \
         may lie beyond what the grid tried. Also in `tuned.csv`.\n"
    );
    let _ = writeln!(
        w,
        "| per class | head | chosen variant | chosen settings | val acc (chose) | lead over runner-up (val) | test acc | test 95% CI | LOSO (the answer's) | train acc |"
    );
    let _ = writeln!(w, "|---|---|---|---|---|---|---|---|---|---|");
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
            "| {} | {} | `{}` | {}{edges} | {} | {lead} | {test} | {ci} | {} | {} |",
            t.row.train_per_class,
            t.label(),
            t.row.variant,
            t.chosen,
            pct(t.row.val.mean),
            t.loso.map_or("—".to_string(), pct),
            pct(t.row.train.mean)
        );
    }
    let _ = writeln!(w);
    budgets(w, results, analysis);
    confusions(w, results, analysis);
}

/// Per size (and regime): each head's expected val-chosen accuracy against the number of settings
/// tried, so heads with unequal grids are compared at an equal budget too.
fn budgets(w: &mut String, results: &Results, analysis: &Analysis) {
    // The answer claim's `a` head first, so the gap reads as the answer's `a − b` does.
    let first = results.experiment.answer_claim().and_then(|c| c.a.head);
    let on = if analysis.has_test { "test" } else { "val" };
    let mut groups: Vec<(u64, Option<bool>)> = Vec::new();
    for t in &analysis.tuned {
        let key = (t.row.train_per_class, t.finetuned);
        if !groups.contains(&key) {
            groups.push(key);
        }
    }
    let any = groups.iter().any(|key| {
        analysis
            .tuned
            .iter()
            .filter(|t| (t.row.train_per_class, t.finetuned) == *key)
            .count()
            > 1
    });
    if !any {
        return;
    }
    let _ = writeln!(
        w,
        "### Tuning budgets\n\nA head tuned over more settings has more chances at a lucky validation \
         score. Per size: the expected {on} accuracy of the setting chosen on val when k of the head's \
         settings are drawn at random (Dodge et al. 2019, expected validation performance; means over \
         seeds, every seed's val choosing), so two heads with grids of unequal size can also be \
         compared at the same budget (**bold**: the smaller grid's size). A curve still rising at its \
         last k says the head's grid may be too small.\n"
    );
    for key in groups {
        let mut heads: Vec<&crate::choose::Tuned> = analysis
            .tuned
            .iter()
            .filter(|t| (t.row.train_per_class, t.finetuned) == key)
            .collect();
        heads.sort_by_key(|t| Some(t.head) != first);
        if heads.len() < 2 {
            continue;
        }
        let most = heads.iter().map(|t| t.budget.len()).max().unwrap_or(0);
        let equal = heads.iter().map(|t| t.budget.len()).min().unwrap_or(0);
        let names: Vec<String> = heads
            .iter()
            .map(|t| {
                let n = t.budget.len();
                format!(
                    "{} ({}, {n} setting{})",
                    t.head.info().label,
                    t.label(),
                    if n == 1 { "" } else { "s" }
                )
            })
            .collect();
        let two = heads.len() == 2;
        let gap_header = if two {
            format!(
                " {} − {} |",
                heads[0].head.info().label,
                heads[1].head.info().label
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            w,
            "| {} per class: settings tried | {} |{gap_header}",
            key.0,
            names.join(" | ")
        );
        let _ = writeln!(
            w,
            "|---|{}{}",
            "---|".repeat(heads.len()),
            if two { "---|" } else { "" }
        );
        for k in crate::budget::shown_budgets(most, equal) {
            let at = |t: &crate::choose::Tuned| t.budget.get(k - 1).copied();
            let cells: Vec<String> = heads
                .iter()
                .map(|t| at(t).map_or("—".to_string(), pct))
                .collect();
            let gap = match (two, at(heads[0]), at(heads[1])) {
                (true, Some(a), Some(b)) => format!(" {:+.2} pp |", (a - b) * 100.0),
                (true, _, _) => " — |".to_string(),
                _ => String::new(),
            };
            let k_text = if k == equal && heads.len() > 1 {
                format!("**{k}**")
            } else {
                k.to_string()
            };
            let _ = writeln!(w, "| {k_text} | {} |{gap}", cells.join(" | "));
        }
        let _ = writeln!(w);
    }
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
         them for, over all its seeds (full confusion matrices in `confusion.csv` and the figure).\n"
    );
    let spec = &crate::figure_table::CONFUSION;
    let _ = writeln!(
        w,
        "![{}]({}.png)\n\n([SVG]({}.svg))\n",
        spec.alt, spec.stem, spec.stem
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
