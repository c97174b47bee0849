//! The answer, first: a few lines in plain words (what to do about the bias before BN, which head
//! at each data size and whether that flips), each linked to its evidence. Definitions, rules and
//! hashes come after it.

use std::fmt::Write as _;

use ablate_spec::{Claim, DataSpec, Expect, HeadKind, Switch};

use super::format::{diff_text, margin_text, pct};
use crate::analysis::Analysis;
use crate::contrast::ClaimResult;
use crate::regimes::Regimes;
use crate::results::Results;
use crate::stats::Verdict;

/// The anchor of a claim's evidence (written before its heading).
pub fn anchor(id: &str) -> String {
    format!("claim-{}", id.to_lowercase())
}

pub fn write(w: &mut String, results: &Results, analysis: &Analysis) {
    let _ = writeln!(w, "## The answer\n");
    let on = if analysis.has_test { "test" } else { "val" };
    let _ = writeln!(w, "*{}*\n", context(results, on));
    for c in analysis.claims.iter().filter(|c| about_the_bias(&c.claim)) {
        let _ = writeln!(w, "- {}", claim_line(c));
    }
    match head_claim(results, analysis) {
        Some((c, [first, second])) => {
            for row in &c.rows {
                let size = row.train_per_class;
                let tuned = |head: HeadKind| {
                    analysis
                        .tuned
                        .iter()
                        .find(|t| t.head == head && t.row.train_per_class == size)
                };
                let (Some(one), Some(two)) = (tuned(first), tuned(second)) else {
                    continue;
                };
                let acc = |t: &crate::choose::Tuned| {
                    pct(t.row.test.as_ref().map_or(t.row.val.mean, |i| i.mean))
                };
                // The chosen variants and how well each fits its training set: whether model2
                // "fits worse" at its tuned setting is part of the thread's question.
                let _ = writeln!(
                    w,
                    "- **{size} per class**: {} (tuned on val) {} vs {} (tuned on val) {} on {on}: {} ([{}](#{})); chosen `{}` (train {}) and `{}` (train {})",
                    first.info().thread_name,
                    acc(one),
                    second.info().thread_name,
                    acc(two),
                    head_words(&c.claim, row.verdict, row.adjusted.mean),
                    c.claim.id,
                    anchor(&c.claim.id),
                    one.row.variant,
                    pct(one.row.train.mean),
                    two.row.variant,
                    pct(two.row.train.mean),
                );
            }
            let _ = writeln!(w, "- {}", flip_line(c));
            let uses: Vec<String> = analysis
                .picks
                .iter()
                .map(|p| format!("`{}` at {}/class", p.recommended.variant, p.train_per_class))
                .collect();
            if !uses.is_empty() {
                let _ = writeln!(
                    w,
                    "- **What to use** (chosen on val by [one stated rule](#what-to-use); the test numbers above are the check): {}.",
                    uses.join(", ")
                );
            }
        }
        None => {
            // With both regimes in the grid, each is tuned on its own: the asker's question is
            // which head to use in the regime they train in.
            let both = Regimes::of(&results.experiment) == Regimes::Both;
            for t in &analysis.tuned {
                let regime = match t.finetuned {
                    Some(true) => ", backbone fine-tuned",
                    Some(false) => ", backbone frozen",
                    None => "",
                };
                let acc = t.row.test.as_ref().unwrap_or(&t.row.val);
                let _ = writeln!(
                    w,
                    "- **{} per class{regime}**, {} tuned on val: `{}`, {} on {on} (95% CI {} to {})",
                    t.row.train_per_class,
                    t.head,
                    t.row.variant,
                    pct(acc.mean),
                    pct(acc.lo()),
                    pct(acc.hi())
                );
            }
            if both {
                let _ = writeln!(
                    w,
                    "- Each head is tuned on val within each regime; whether the two heads differ \
                     significantly in a regime is what the claims that pin `backbone` judge (below)."
                );
            }
        }
    }
    // The other claims, one short line: the verdict table has them in full.
    let head = head_claim(results, analysis).map(|(c, _)| c.claim.id.clone());
    let others: Vec<String> = analysis
        .claims
        .iter()
        .filter(|c| !about_the_bias(&c.claim) && Some(&c.claim.id) != head.as_ref())
        .map(|c| {
            let says = c.claim.says.trim_end_matches('.');
            let says = match says.char_indices().nth(150) {
                Some((cut, _)) => format!("{}…", &says[..cut]),
                None => says.to_string(),
            };
            format!(
                "[{}](#{}) *{says}*: {}",
                c.claim.id,
                anchor(&c.claim.id),
                c.summary()
            )
        })
        .collect();
    if !others.is_empty() {
        let _ = writeln!(w, "- **Also judged:** {}.", others.join(" · "));
    }
    // Where a claim's answer flips with another switch, say so here (the strata are in its evidence).
    let mut flips = Vec::new();
    for (c, strata) in analysis.claims.iter().zip(&analysis.strata) {
        for s in strata.iter().filter(|s| !s.flips.is_empty()) {
            let sizes: Vec<String> = s.flips.iter().map(u64::to_string).collect();
            flips.push(format!(
                "**{}** flips sign with `{}` at {}/class ([evidence](#{}))",
                c.claim.id,
                s.switch.key(),
                sizes.join(", "),
                anchor(&c.claim.id)
            ));
        }
    }
    if !flips.is_empty() {
        let _ = writeln!(w, "- **It depends:** {}.", flips.join("; "));
    }
    let _ = writeln!(
        w,
        "- Every claim with its numbers: [verdicts](#verdicts); the heads chosen per size: [tuned heads](#tuned-heads-chosen-on-validation-reported-on-test); the data and training: [setup](#setup).\n"
    );
}

/// What the answer was measured on, in one line.
fn context(results: &Results, on: &str) -> String {
    let e = &results.experiment;
    let named = |p: &std::path::Path| {
        p.file_name().map_or(p.display().to_string(), |n| {
            n.to_string_lossy().into_owned()
        })
    };
    let source = match &e.config.data {
        DataSpec::Idx { path, .. } => format!("`{}`", named(path)),
        DataSpec::ImageFolder { root, .. } => format!("the image folder `{}`", named(root)),
        DataSpec::Csv(data) => format!("`{}`", named(&data.csv)),
        DataSpec::Features { path } => format!("the features file `{}`", named(path)),
    };
    let classes = match (&results.manifest.data, &e.config.data) {
        (Some(d), _) => d.class_names.clone(),
        (
            None,
            DataSpec::Idx {
                class_names: Some(n),
                ..
            },
        ) => n.clone(),
        _ => Vec::new(),
    };
    let classes = if classes.is_empty() {
        String::new()
    } else {
        format!(" ({} classes: {})", classes.len(), classes.join(", "))
    };
    let backbone = e.config.backbone.as_ref().map(|b| b.arch.as_str());
    let sizes: Vec<String> = e
        .config
        .grid
        .train_per_class
        .iter()
        .map(usize::to_string)
        .collect();
    format!(
        "Measured on {source}{classes} with {}: every head variant trained with {} seeds at {} training images per class, accuracies on {on}. For your own data, run the same grid on it.",
        Regimes::of(e).trained_on(backbone),
        e.config.grid.seeds.len(),
        sizes.join(", ")
    )
}

/// A claim whose two sides differ in the bias before BN.
fn about_the_bias(claim: &Claim) -> bool {
    let s = Switch::BiasBeforeBn;
    claim.a.get(s).is_some() && claim.b.get(s).is_some() && claim.a.get(s) != claim.b.get(s)
}

/// The claim the answer spells out per size ([`ablate_spec::Experiment::answer_claim`]: the
/// experiment's `[report] answer`, or the thread's D), with its two heads in the head table's order.
fn head_claim<'a>(
    results: &Results,
    analysis: &'a Analysis,
) -> Option<(&'a ClaimResult, [HeadKind; 2])> {
    let id = &results.experiment.answer_claim()?.id;
    let c = analysis.claims.iter().find(|c| &c.claim.id == id)?;
    let (Some(a), Some(b)) = (c.claim.a.head, c.claim.b.head) else {
        return None;
    };
    Some((c, if a < b { [a, b] } else { [b, a] }))
}

/// The thread's name of a side's head (`model1`), or "a"/"b" when the side names none.
fn side_name(head: Option<HeadKind>, fallback: &'static str) -> &'static str {
    head.map_or(fallback, |h| h.info().thread_name)
}

/// "**A** — *the claim* → supported at every size (...)".
fn claim_line(c: &ClaimResult) -> String {
    let claim = &c.claim;
    let verdicts: Vec<Verdict> = c.rows.iter().map(|r| r.verdict).collect();
    let all = |v: Verdict| verdicts.iter().all(|x| *x == v);
    let numbers = if claim.expect == Expect::Identical {
        let (loss, grad) = c
            .rows
            .iter()
            .filter_map(|r| r.exactness)
            .fold((0.0f64, 0.0f64), |(l, g), e| {
                (l.max(e.loss_gap), g.max(e.bias_grad))
            });
        if claim.loss_epochs == Some(0) {
            format!(
                "the bias gets no gradient: at most {grad:.1e}; the twins' losses are not judged: \
                 once the backbone trains they part, by up to {loss:.1e}, as runs whose float \
                 rounding differs do"
            )
        } else {
            format!("largest train-loss gap {loss:.1e}, largest bias gradient {grad:.1e}")
        }
    } else {
        let largest = c
            .rows
            .iter()
            .map(|r| r.adjusted.mean)
            .fold(0.0f64, |m, x| if x.abs() > m.abs() { x } else { m });
        format!("largest mean effect {}", diff_text(claim.metric, largest))
    };
    let verdict = if all(Verdict::Equivalent) && claim.expect != Expect::Identical {
        format!(
            "**equivalent** at every size, no difference that matters: within ±{} ({numbers})",
            margin_text(claim)
        )
    } else if !verdicts.is_empty() && all(verdicts[0]) {
        format!("**{}** at every size ({numbers})", verdicts[0].as_str())
    } else {
        format!("{} ({numbers})", c.summary())
    };
    format!(
        "**{}** — *{}* → {verdict}. [evidence](#{})",
        claim.id,
        claim.says.trim_end_matches('.'),
        anchor(&claim.id)
    )
}

/// The head claim's verdict at one size, said in terms of the heads.
fn head_words(claim: &Claim, verdict: Verdict, mean: f64) -> String {
    let (a, b) = (side_name(claim.a.head, "a"), side_name(claim.b.head, "b"));
    let (ahead, behind) = if mean > 0.0 { (a, b) } else { (b, a) };
    let gap = diff_text(claim.metric, mean.abs());
    let gap = gap.trim_start_matches('+');
    match verdict {
        Verdict::Equivalent => format!("equivalent within ±{}", margin_text(claim)),
        Verdict::Supported | Verdict::Contradicted => {
            format!("**{ahead} is better** by {gap} (significant)")
        }
        _ => format!("inconclusive ({ahead} ahead of {behind} by {gap}, not significant)"),
    }
}

/// Whether the better tuned head changes with the data size.
fn flip_line(c: &ClaimResult) -> String {
    let (a, b) = (
        side_name(c.claim.a.head, "a"),
        side_name(c.claim.b.head, "b"),
    );
    let mut a_wins = Vec::new();
    let mut b_wins = Vec::new();
    for r in &c.rows {
        if matches!(r.verdict, Verdict::Supported | Verdict::Contradicted) {
            if r.adjusted.mean > 0.0 {
                a_wins.push(r.train_per_class.to_string());
            } else {
                b_wins.push(r.train_per_class.to_string());
            }
        }
    }
    match (a_wins.is_empty(), b_wins.is_empty()) {
        (true, true) => {
            // Absence of a significant winner is not "no flip": say whether the estimates change sign.
            let (mut a_ahead, mut b_ahead) = (Vec::new(), Vec::new());
            for r in &c.rows {
                if r.adjusted.mean > 0.0 {
                    a_ahead.push(r.train_per_class.to_string());
                } else {
                    b_ahead.push(r.train_per_class.to_string());
                }
            }
            if a_ahead.is_empty() || b_ahead.is_empty() {
                "**Does it flip with data size?** No sign of it: the same head is ahead at every size, and no size shows a significant winner.".into()
            } else {
                format!(
                    "**Does it flip with data size?** Can't tell: the estimates change sign ({a} ahead at {}, {b} at {} per class), but no size has a significant winner.",
                    a_ahead.join(", "),
                    b_ahead.join(", ")
                )
            }
        }
        (false, false) => format!(
            "**It flips with data size:** {a} is significantly better at {} per class, {b} at {}.",
            a_wins.join(", "),
            b_wins.join(", ")
        ),
        (false, true) => format!(
            "**Does it flip?** Only {a} is ever significantly better (at {} per class).",
            a_wins.join(", ")
        ),
        (true, false) => format!(
            "**Does it flip?** Only {b} is ever significantly better (at {} per class).",
            b_wins.join(", ")
        ),
    }
}
