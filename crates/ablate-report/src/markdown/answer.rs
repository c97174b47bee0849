//! The answer, first: a few lines in plain words (what to do about the bias before BN, which head
//! at each data size and whether that flips), each linked to its evidence. Definitions, rules and
//! hashes come after it.

use std::fmt::Write as _;

use ablate_spec::{Claim, DataSpec, Expect, HeadKind, Switch};

use super::format::{ci_text, detectable_text, diff_text, margin_text, pct};
use crate::analysis::Analysis;
use crate::choose::Tuned;
use crate::contrast::ClaimResult;
use crate::regimes::Regimes;
use crate::results::Results;
use crate::stats::Verdict;

/// The anchor of a claim's evidence (written before its heading).
pub fn anchor(id: &str) -> String {
    format!("claim-{}", id.to_lowercase())
}

pub fn write(w: &mut String, results: &Results, analysis: &Analysis, ctx: &super::Context) {
    let _ = writeln!(w, "## The answer\n");
    let on = if analysis.has_test { "test" } else { "val" };
    let head = head_claim(results, analysis);
    if let Some((c, heads)) = head
        && let Some(sentence) = plain_answer(results, analysis, c, heads)
    {
        let _ = writeln!(w, "**{sentence}**\n");
    }
    let _ = writeln!(w, "*{}*\n", context(results, on));
    match head {
        Some((c, heads)) => {
            head_table(w, results, analysis, c, on);
            let spec = &crate::figure_table::HEAD_DIFFERENCE;
            if ctx.figures.contains(&spec.stem) {
                let _ = writeln!(w, "![{}]({}.png)\n", spec.alt, spec.stem);
            }
            chosen_settings(w, analysis, c, heads);
            if let Some(line) = regime_line(results, analysis) {
                let _ = writeln!(w, "- {line}");
            }
            if let Some(line) = bias_advice(analysis) {
                let _ = writeln!(w, "- {line}");
            }
            if let Some(line) = one_run_noise(analysis, heads) {
                let _ = writeln!(w, "- {line}");
            }
            // The claim the bias advice reads is said there, with its numbers: not twice.
            let advised = bias_advice_claim(analysis).map(|c| c.claim.id.clone());
            for c in bias_claims(analysis) {
                if Some(&c.claim.id) != advised.as_ref() {
                    let _ = writeln!(w, "- {}", claim_line(c));
                }
            }
            let _ = writeln!(w, "- {}", flip_line(c));
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
                    "- **{} per class{regime}**, {} ({}) tuned on val: {}, {} on {on} (95% CI {} to {})",
                    t.row.train_per_class,
                    t.head.info().label,
                    t.head,
                    plain_variant(&t.row.variant),
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
            if let Some(line) = bias_advice(analysis) {
                let _ = writeln!(w, "- {line}");
            }
            let advised = bias_advice_claim(analysis).map(|c| c.claim.id.clone());
            for c in bias_claims(analysis) {
                if Some(&c.claim.id) != advised.as_ref() {
                    let _ = writeln!(w, "- {}", claim_line(c));
                }
            }
        }
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
        let _ = writeln!(
            w,
            "- **It depends** (per-stratum intervals, not adjusted for the many strata: a lead to follow up, not a verdict): {}.",
            flips.join("; ")
        );
    }
    let _ = writeln!(
        w,
        "- Every claim with its numbers: [verdicts](#verdicts); the heads chosen per size: [tuned heads](#tuned-heads-chosen-on-validation-reported-on-test); the data and training: [setup](#setup).\n"
    );
    every_head(w, analysis, on);
    // The other claims, a row each: the verdict table has them in full.
    let head = head.map(|(c, _)| c.claim.id.clone());
    let others: Vec<&ClaimResult> = analysis
        .claims
        .iter()
        .filter(|c| {
            !about_the_bias(&c.claim)
                && !about_the_regime(&c.claim)
                && Some(&c.claim.id) != head.as_ref()
        })
        .collect();
    if !others.is_empty() {
        let _ = writeln!(
            w,
            "**The other claims** (each links to its evidence):\n\n| claim | says | verdict |\n|---|---|---|"
        );
        for c in others {
            let says = c.claim.says.trim_end_matches('.');
            let says = match says.char_indices().nth(150) {
                Some((cut, _)) => format!("{}…", &says[..cut]),
                None => says.to_string(),
            };
            let _ = writeln!(
                w,
                "| [{}](#{}) | {} | {} |",
                c.claim.id,
                anchor(&c.claim.id),
                says.replace('|', "\\|"),
                c.summary()
            );
        }
        let _ = writeln!(w);
    }
}

/// With more than the answer's two heads: every head's tuned accuracy per size, the number its
/// claim judged (leave-one-seed-out; the same as tuned.csv's `loso_acc_mean`), and its size, so a
/// reader choosing a head sees each one's figure beside its verdict below.
fn every_head(w: &mut String, analysis: &Analysis, on: &str) {
    let mut heads: Vec<String> = Vec::new();
    for t in &analysis.tuned {
        if !heads.contains(&t.label()) {
            heads.push(t.label());
        }
    }
    let mut kinds: Vec<HeadKind> = analysis.tuned.iter().map(|t| t.head).collect();
    kinds.sort();
    kinds.dedup();
    if kinds.len() <= 2 {
        return;
    }
    let sizes: Vec<u64> = analysis.sizes.clone();
    let _ = writeln!(
        w,
        "**Every head, tuned on val** ({on} accuracy, leave-one-seed-out as in the table above; — where no claim judges the head at that size):\n"
    );
    let columns: Vec<String> = sizes.iter().map(|n| format!("{n} per class")).collect();
    let _ = writeln!(w, "| head | parameters | {} |", columns.join(" | "));
    let _ = writeln!(w, "|---|---:|{}", "---:|".repeat(sizes.len()));
    for label in &heads {
        let rows: Vec<&Tuned> = analysis
            .tuned
            .iter()
            .filter(|t| &t.label() == label)
            .collect();
        let Some(first) = rows.first() else {
            continue;
        };
        let accs: Vec<String> = sizes
            .iter()
            .map(|&n| {
                rows.iter()
                    .find(|t| t.row.train_per_class == n)
                    .and_then(|t| t.loso)
                    .map_or("—".to_string(), pct)
            })
            .collect();
        let _ = writeln!(
            w,
            "| {} (`{}`) | {} | {} |",
            first.head.info().label,
            label,
            first.row.params,
            accs.join(" | ")
        );
    }
    let _ = writeln!(w);
}

/// The answer claim's heads at one size: the tuned row of each, cheaper first by parameters (in
/// the answer claim's regime, where the grid has both).
fn tuned_pair(analysis: &Analysis, heads: [HeadKind; 2], size: u64) -> Option<[&Tuned; 2]> {
    let tuned = |head: HeadKind| {
        analysis.tuned.iter().find(|t| {
            t.head == head
                && t.row.train_per_class == size
                && (t.finetuned.is_none() || t.finetuned == analysis.answer_regime)
        })
    };
    let (one, two) = (tuned(heads[0])?, tuned(heads[1])?);
    Some(if one.row.params <= two.row.params {
        [one, two]
    } else {
        [two, one]
    })
}

/// The answer's first sentence: what to use and how sure, in plain words, from the answer claim's
/// rows and the one rule of "what to use" (so the two cannot disagree). Each size falls in one
/// of five cases, said in the order of the sizes they first appear at.
fn plain_answer(
    results: &Results,
    analysis: &Analysis,
    c: &ClaimResult,
    heads: [HeadKind; 2],
) -> Option<String> {
    let first = c.rows.first()?;
    let [cheap, large] = tuned_pair(analysis, heads, first.train_per_class)?;
    let (cheap_name, large_name) = (cheap.head.info().plain_name, large.head.info().plain_name);
    let margin = margin_text(&c.claim);
    // The claim measures a − b; turn it into the larger head's lead over the cheaper one.
    let sign = if c.claim.a.head == Some(large.head) {
        1.0
    } else {
        -1.0
    };
    let uses_large = |size: u64| {
        analysis.picks.iter().any(|p| {
            p.train_per_class == size
                && results
                    .variant(&p.recommended.variant)
                    .is_some_and(|v| v.kind() == large.head)
        })
    };
    let pp = |x: f64| format!("{:.2} pp", x * 100.0);
    #[derive(PartialEq, Clone, Copy)]
    enum Case {
        LargeClearly,
        LargeSlightly,
        CheapBetter,
        Matched,
        NotToldApart,
        Unmeasured,
    }
    // Per size: (size, the larger head's lead, the farthest interval end, the lead's interval).
    type Entry = (u64, f64, f64, (f64, f64));
    let mut cases: Vec<(Case, Vec<Entry>)> = Vec::new();
    for r in &c.rows {
        let lead = sign * r.adjusted.mean;
        let case = match r.verdict {
            Verdict::Unmeasured => Case::Unmeasured,
            _ if uses_large(r.train_per_class) => Case::LargeClearly,
            Verdict::Equivalent if r.adjusted.lo() > 0.0 || r.adjusted.hi() < 0.0 => {
                if lead > 0.0 {
                    Case::LargeSlightly
                } else {
                    Case::CheapBetter
                }
            }
            Verdict::Equivalent => Case::Matched,
            Verdict::Supported | Verdict::Contradicted if lead > 0.0 => Case::LargeSlightly,
            Verdict::Supported | Verdict::Contradicted => Case::CheapBetter,
            // Excludes 0 by the claim's own interval, but not over the whole table: not a winner.
            Verdict::Inconclusive | Verdict::Suggestive => Case::NotToldApart,
        };
        let bound = r.adjusted.lo().abs().max(r.adjusted.hi().abs());
        let (lo, hi) = (sign * r.adjusted.lo(), sign * r.adjusted.hi());
        let entry = (r.train_per_class, lead, bound, (lo.min(hi), lo.max(hi)));
        match cases.iter_mut().find(|(k, _)| *k == case) {
            Some((_, sizes)) => sizes.push(entry),
            None => cases.push((case, vec![entry])),
        }
    }
    let sizes = |v: &[Entry]| {
        let s: Vec<String> = v.iter().map(|e| e.0.to_string()).collect();
        let every = v.len() == c.rows.len();
        if every {
            "every size".to_string()
        } else {
            format!("{} per class", s.join(", "))
        }
    };
    let gaps = |v: &[Entry]| {
        v.iter()
            .map(|e| pp(e.1.abs()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let bounds = |v: &[Entry]| pp(v.iter().map(|e| e.2).fold(0.0f64, f64::max));
    let ranges = |v: &[Entry]| {
        v.iter()
            .map(|e| {
                format!(
                    "{:.2} to {:.2} pp",
                    e.3.0.abs().min(e.3.1.abs()) * 100.0,
                    e.3.0.abs().max(e.3.1.abs()) * 100.0
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let clauses: Vec<String> = cases
        .iter()
        .map(|(case, v)| match case {
            Case::Matched => format!(
                "the {cheap_name} matched the {large_name} at {} (equivalent within ±{margin}; the intervals rule out gaps above {})",
                sizes(v),
                bounds(v)
            ),
            // An interval that excludes 0 where the table-wide tests do not confirm it
            // (suggestive) is not "not told apart" in a reader's sense: say what holds.
            Case::NotToldApart
                if v.iter().all(|e| e.3.0 > 0.0 || e.3.1 < 0.0)
                    && (v.iter().all(|e| e.1 > 0.0) || v.iter().all(|e| e.1 < 0.0)) =>
            {
                format!(
                    "at {} the {} was ahead ({} {}; its interval excludes 0, but the tests over \
                     the whole table do not confirm it: suggestive only)",
                    sizes(v),
                    if v[0].1 > 0.0 { &large_name } else { &cheap_name },
                    if v.len() == 1 { "by" } else { "by, in turn," },
                    gaps(v)
                )
            }
            Case::NotToldApart => format!(
                "at {} the two heads were not told apart ({} {}; the intervals reach {})",
                sizes(v),
                if v.len() == 1 { "a gap of" } else { "gaps" },
                gaps(v),
                bounds(v)
            ),
            Case::LargeSlightly => {
                // Where the interval reaches past the margin, the data do not say whether the
                // gap matters: say so rather than call it small.
                let past = v.iter().any(|e| e.3.1 >= c.claim.rope);
                let reading = if past {
                    format!("the ±{margin} margin lies inside that range, so whether the gap matters is open")
                } else {
                    format!("under the ±{margin} margin")
                };
                format!(
                    "at {} the {large_name} was ahead by {} (significant: {}; {reading})",
                    sizes(v),
                    gaps(v),
                    ranges(v)
                )
            }
            Case::CheapBetter => format!(
                "at {} the {cheap_name} was better, by {}",
                sizes(v),
                gaps(v)
            ),
            Case::LargeClearly => format!(
                "at {} the {large_name} was better by {}, more than the ±{margin} margin",
                sizes(v),
                gaps(v)
            ),
            Case::Unmeasured => format!("at {} nothing could be measured", sizes(v)),
        })
        .collect();
    let clearly: Vec<u64> = cases
        .iter()
        .filter(|(k, _)| *k == Case::LargeClearly)
        .flat_map(|(_, v)| v.iter().map(|e| e.0))
        .collect();
    let slightly = cases
        .iter()
        .find(|(k, _)| *k == Case::LargeSlightly)
        .map(|(_, v)| v.clone());
    let action = if clearly.is_empty() {
        let extra = slightly.map_or(String::new(), |v| {
            format!(
                "; at {} the {large_name} buys {}: use it there if that much matters to you",
                sizes(&v),
                ranges(&v)
            )
        });
        format!("start with the {cheap_name}, the cheaper one{extra}")
    } else if clearly.len() == c.rows.len() {
        format!("use the {large_name}")
    } else {
        format!(
            "use the {large_name} at {} per class and the {cheap_name} elsewhere",
            clearly
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let fine_tuned = c.claim.a.get(Switch::Backbone) == Some(ablate_spec::Value::Word("finetune"));
    let top_only = results
        .experiment
        .config
        .finetune
        .as_ref()
        .is_some_and(|f| f.freeze_stages > 0);
    let features = if fine_tuned && top_only {
        "With the backbone's top fine-tuned"
    } else if fine_tuned {
        "With the backbone fine-tuned"
    } else if results.experiment.config.data.needs_backbone() {
        "On these features"
    } else {
        "Here"
    };
    let few = c.rows.iter().any(|r| r.diff.n < crate::contrast::FEW_SEEDS);
    let caveat = if few {
        " (few seeds: read it as a first look)"
    } else {
        ""
    };
    // Where a head's choice sits at the grid's edge, a better setting may lie beyond it: that
    // head may do better than shown, so the gap could move its way (either way when both are).
    let mut at_edge: Vec<&str> = Vec::new();
    let edges: Vec<String> = [0, 1]
        .iter()
        .filter_map(|&k| {
            let sizes: Vec<String> = c
                .rows
                .iter()
                .filter_map(|r| {
                    let pair = tuned_pair(analysis, heads, r.train_per_class)?;
                    (!pair[k].edges.is_empty()).then(|| r.train_per_class.to_string())
                })
                .collect();
            let pair = c
                .rows
                .iter()
                .find_map(|r| tuned_pair(analysis, heads, r.train_per_class))?;
            (!sizes.is_empty()).then(|| {
                at_edge.push(pair[k].head.info().label);
                format!("{} at {}", pair[k].head.info().label, sizes.join(", "))
            })
        })
        .collect();
    let edge = match at_edge.as_slice() {
        [] => String::new(),
        [one] => format!(
            " Some of {one}'s chosen settings sit at the grid's edge ({} per class): a better one may lie beyond it, so {one} may do better there than shown and the gap move its way",
            edges.join("; ")
        ),
        _ => format!(
            " Some chosen settings sit at the grid's edge ({} per class): a better one may lie beyond it, so either head may do better there than shown and the gap move either way",
            edges.join("; ")
        ),
    };
    let mut text = format!("{features}, {}", clauses.join("; "));
    text.push_str(&format!(". So: {action}{caveat}."));
    if !edge.is_empty() {
        text.push_str(&edge);
        text.push('.');
    }
    Some(text)
}

/// The answer's table: per size, the two tuned heads on test, their difference with its interval
/// (leave-one-seed-out), what the experiment could have detected, the verdict and what to use.
fn head_table(w: &mut String, results: &Results, analysis: &Analysis, c: &ClaimResult, on: &str) {
    let (a, b) = (
        side_name(c.claim.a.head, "a"),
        side_name(c.claim.b.head, "b"),
    );
    let _ = writeln!(
        w,
        "| per class | {a} tuned ({on}) | {b} tuned ({on}) | {a} − {b} (simultaneous 95% CI) | smallest gap it could detect | verdict ([{}](#{})) | use |",
        c.claim.id,
        anchor(&c.claim.id)
    );
    let _ = writeln!(w, "|---|---|---|---|---|---|---|");
    for row in &c.rows {
        let size = row.train_per_class;
        let pick = analysis.picks.iter().find(|p| p.train_per_class == size);
        let use_text = pick.map_or("—".to_string(), |p| {
            let name = |variant: &str| {
                results
                    .variant(variant)
                    .map_or(String::new(), |v| v.kind().info().label.to_string())
            };
            let head = name(&p.recommended.variant);
            let why = &p.why;
            if p.open {
                format!("**{head} or {}**: {why}", name(&p.larger.variant))
            } else {
                format!("**{head}**: {why}")
            }
        });
        let _ = writeln!(
            w,
            "| {size} | {} | {} | {} {} | {} | {} | {use_text} |",
            pct(row.sides.0),
            pct(row.sides.1),
            diff_text(c.claim.metric, row.adjusted.mean),
            ci_text(c.claim.metric, row.adjusted.lo(), row.adjusted.hi()),
            detectable_text(c.claim.metric, row),
            head_words(&c.claim, row),
        );
    }
    let _ = writeln!(
        w,
        "\n*pp*: percentage points of accuracy. *Tuned*: each head's hyperparameters chosen on validation; \
         each seed's numbers are those of the heads chosen on the *other* seeds' validation, on this \
         seed's {on} split (leave-one-seed-out), so no seed's luck on validation picks what its {on} \
         scores. *Simultaneous 95% CI*: over seeds and {on} images, holding at every size at once; its \
         ends are what the data rule out{}. *Smallest gap it could detect*: what this design finds \
         with 80% power, a property of the design, not a bound. *Use*: the cheaper head unless the \
         larger is better by more than the margin with an interval that excludes 0.\n",
        super::format::pool_caveat(results).map_or(String::new(), |caveat| {
            match super::seed_split::fresh_caveat(analysis, c) {
                Some(fresh) => format!(" ({caveat}: {fresh}, from the seed split in DETAILS)"),
                None => format!(" ({caveat})"),
            }
        })
    );
}

/// The tuned choices behind the answer's table, with the grid edges they sit on.
fn chosen_settings(w: &mut String, analysis: &Analysis, c: &ClaimResult, heads: [HeadKind; 2]) {
    let mut rows = Vec::new();
    for row in &c.rows {
        let Some(pair) = tuned_pair(analysis, heads, row.train_per_class) else {
            continue;
        };
        let cells: Vec<String> = pair
            .iter()
            .map(|t| {
                let edge = if t.edges.is_empty() {
                    String::new()
                } else {
                    format!(" ⚠ {}", t.edges.join(", "))
                };
                format!(
                    "{} (train {}){edge}",
                    plain_variant(&t.row.variant),
                    pct(t.row.train.mean)
                )
            })
            .collect();
        // A choice that most folds make differently is a near tie on val: the answer's numbers
        // average several settings, not this one (the leave-one-seed-out accuracies are still
        // honest; the setting named here is not what most seeds were scored with).
        let folds = row.stable_folds.map_or("—".to_string(), |(same, n)| {
            if 2 * same < n {
                format!(
                    "{same} of {n} ⚠ the choice changes with the seed left out: a near tie on val, so the table's numbers mix settings"
                )
            } else {
                format!("{same} of {n}")
            }
        });
        rows.push(format!(
            "| {} | {} | {folds} |",
            row.train_per_class,
            cells.join(" | ")
        ));
    }
    let Some(pair) = c
        .rows
        .iter()
        .find_map(|r| tuned_pair(analysis, heads, r.train_per_class))
    else {
        return;
    };
    let _ = writeln!(
        w,
        "**Settings chosen on validation** (on every seed's; hover for the variant's full name; ⚠: at an end of the grid's range, so a better setting may lie beyond it and that head do better than shown):\n"
    );
    let _ = writeln!(
        w,
        "| per class | {} | {} | the same choice in leave-one-seed-out folds |\n|---|---|---|---|",
        pair[0].head.info().label,
        pair[1].head.info().label
    );
    for r in rows {
        let _ = writeln!(w, "{r}");
    }
    let _ = writeln!(w);
}

/// A variant's settings in words, its full name on hover (`title`), for tables a person reads.
pub fn plain_variant(name: &str) -> String {
    match name.parse::<ablate_spec::HeadVariant>() {
        Ok(v) => {
            let phrases = v.phrases();
            let words = if phrases.is_empty() {
                "the `[train]` settings".to_string()
            } else {
                phrases.join(", ")
            };
            format!("<span title=\"{name}\">{words}</span>")
        }
        Err(_) => format!("`{name}`"),
    }
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
        DataSpec::Idx(data) => format!("`{}`", named(&data.path)),
        DataSpec::ImageFolder { root, .. } => format!("the image folder `{}`", named(root)),
        DataSpec::Csv(data) => format!("`{}`", named(&data.csv)),
        DataSpec::Features { path } => format!("the features file `{}`", named(path)),
    };
    let classes = match (&results.manifest.data, &e.config.data) {
        (Some(d), _) => d.class_names.clone(),
        (
            None,
            DataSpec::Idx(ablate_spec::IdxData {
                class_names: Some(n),
                ..
            }),
        ) => n.clone(),
        _ => Vec::new(),
    };
    let classes = if classes.is_empty() {
        String::new()
    } else {
        format!(" ({} classes: {})", classes.len(), classes.join(", "))
    };
    // The resolution where the experiment sets one: a 64 px run and a 224 px one are not alike.
    let backbone = e.config.backbone.as_ref().map(|b| match b.image_size {
        Some(px) => format!("{} at {px} px", b.arch),
        None => b.arch.clone(),
    });
    let sizes: Vec<String> = e
        .config
        .grid
        .train_per_class
        .iter()
        .map(usize::to_string)
        .collect();
    let seeds = e.config.grid.seeds.len();
    let few = super::format::few_seeds_note(seeds).map_or(String::new(), |note| {
        format!(" ⚠ {note}: every verdict here is a first look.")
    });
    format!(
        "Measured on {source}{classes} with {}: every head variant trained with {seeds} seeds at {} training images per class, accuracies on {on}. For your own data, run the same grid on it.{few}",
        Regimes::of(e).trained_on(
            backbone.as_deref(),
            e.config.finetune.as_ref().map_or(0, |f| f.freeze_stages)
        ),
        sizes.join(", ")
    )
}

/// The claims about the bias before BN, those with a ReLU in between first: the thread's model1
/// has one, so that is the bias its asker has.
fn bias_claims(analysis: &Analysis) -> Vec<&ClaimResult> {
    let mut claims: Vec<&ClaimResult> = analysis
        .claims
        .iter()
        .filter(|c| about_the_bias(&c.claim))
        .collect();
    claims.sort_by_key(|c| !with_relu(c));
    claims
}

/// A claim whose `a` side has the ReLU between the Linear and BN (the thread's model1).
fn with_relu(c: &ClaimResult) -> bool {
    c.claim.a.get(Switch::Relu) == Some(ablate_spec::Value::Flag(true))
}

/// The asker's second question as an action: keep the bias before BN or drop it, in model1 as
/// they wrote it (with the ReLU), from the first directional claim about that bias. Only a firm
/// verdict (or equivalence at every size) gives an action; anything else says it is not settled.
fn bias_advice(analysis: &Analysis) -> Option<String> {
    let c = bias_advice_claim(analysis)?;
    let on_is_a = c.claim.a.get(Switch::BiasBeforeBn) == Some(ablate_spec::Value::Flag(true));
    let firm: Vec<_> = c
        .rows
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Supported | Verdict::Contradicted))
        .collect();
    let kept_better = |r: &&crate::contrast::ClaimRow| (r.adjusted.mean > 0.0) == on_is_a;
    let sizes = |rows: &[&crate::contrast::ClaimRow]| {
        rows.iter()
            .map(|r| r.train_per_class.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let action = if c.rows.iter().all(|r| r.verdict == Verdict::Equivalent) {
        format!(
            "keep it or drop it, as you like: no difference that matters at any size (within ±{})",
            margin_text(&c.claim)
        )
    } else if !firm.is_empty() && firm.iter().all(kept_better) {
        format!(
            "keep it: dropping it costs accuracy at {}/class",
            sizes(&firm)
        )
    } else if !firm.is_empty() && !firm.iter().any(kept_better) {
        format!(
            "drop it: keeping it costs accuracy at {}/class",
            sizes(&firm)
        )
    } else {
        "this grid does not settle it".to_string()
    };
    Some(format!(
        "**The bias before BN** (in model1 with its ReLU in between, as the thread wrote it): {action}. {}",
        claim_line(c)
    ))
}

/// The claim [`bias_advice`] reads: the first directional one about the bias with the ReLU.
fn bias_advice_claim(analysis: &Analysis) -> Option<&ClaimResult> {
    bias_claims(analysis)
        .into_iter()
        .find(|c| c.claim.expect != Expect::Identical && with_relu(c))
}

/// The asker's third question: how far one run moves by chance. Per size, the seed-to-seed sd of
/// each tuned head's accuracy, and how far apart two runs of the larger head that differ only in
/// their seed fall (95%: 1.96 · √2 · sd), the yardstick for a difference one pair of runs shows.
fn one_run_noise(analysis: &Analysis, heads: [HeadKind; 2]) -> Option<String> {
    let on = if analysis.has_test { "test" } else { "val" };
    let mut parts = Vec::new();
    for &size in &analysis.sizes {
        let Some([cheap, large]) = tuned_pair(analysis, heads, size) else {
            continue;
        };
        let sd = |t: &Tuned| t.row.test.as_ref().unwrap_or(&t.row.val).sd;
        let (sd_cheap, sd_large) = (sd(cheap), sd(large));
        if !(sd_cheap.is_finite() && sd_large.is_finite()) {
            continue;
        }
        parts.push(format!(
            "at {size}/class an sd of {:.2} pp for {} and {:.2} pp for {}, so two runs of {} that differ only in their seed are within about {:.2} pp of each other 19 times in 20",
            sd_large * 100.0,
            large.head.info().label,
            sd_cheap * 100.0,
            cheap.head.info().label,
            large.head.info().label,
            1.96 * std::f64::consts::SQRT_2 * sd_large * 100.0
        ));
    }
    (!parts.is_empty()).then(|| {
        format!(
            "**One run's noise** (each tuned head retrained with another seed: another training subset, initialisation and batch order; {on} accuracy on this {on} split): {}. A difference that one pair of runs shows (the bias on and off, say) is news only beyond that.",
            parts.join("; ")
        )
    })
}

/// A claim whose sides train in different regimes (fine-tuned against frozen).
fn about_the_regime(claim: &Claim) -> bool {
    let s = Switch::Backbone;
    claim.a.get(s).is_some() && claim.b.get(s).is_some() && claim.a.get(s) != claim.b.get(s)
}

/// "**Does fine-tuning beat a frozen backbone?** model1 (mlp): +1.2 pp [...] at 25/class, ...":
/// the claims that compare the regimes, each with its difference and simultaneous interval per
/// size and its verdict, on the first screen (they are the other half of a fine-tuner's question).
fn regime_line(results: &Results, analysis: &Analysis) -> Option<String> {
    let parts: Vec<String> = analysis
        .claims
        .iter()
        .filter(|c| about_the_regime(&c.claim))
        .map(|c| {
            let who = c.claim.a.head.map_or_else(
                || c.claim.id.clone(),
                |h| format!("{} ({h})", h.info().label),
            );
            let sides = match c.claim.a.get(Switch::Backbone) {
                Some(ablate_spec::Value::Word("finetune")) => "fine-tuned − frozen",
                _ => "a − b",
            };
            let sizes: Vec<String> = c
                .rows
                .iter()
                .filter(|r| r.adjusted.mean.is_finite())
                .map(|r| {
                    format!(
                        "{} {} at {}/class",
                        diff_text(c.claim.metric, r.adjusted.mean),
                        ci_text(c.claim.metric, r.adjusted.lo(), r.adjusted.hi()),
                        r.train_per_class
                    )
                })
                .collect();
            format!(
                "{who}, {sides}: {} ([{}](#{}): {})",
                sizes.join(", "),
                c.claim.id,
                anchor(&c.claim.id),
                c.summary()
            )
        })
        .collect();
    // What "fine-tuning" was here, where only the top trained: the answer holds for that.
    let what = match results
        .experiment
        .config
        .finetune
        .as_ref()
        .map(|f| f.freeze_stages)
    {
        Some(n) if n > 0 => format!(
            "; here fine-tuning trains {} and the head conv with the head, the stages below \
             frozen: training the whole network was not measured",
            crate::regimes::stages_from(n)
        ),
        _ => String::new(),
    };
    // How many settings each regime's tuned heads were chosen from: a comparison of tuned arms
    // leans toward the arm tuned over more.
    let budgets: Vec<String> = analysis
        .claims
        .iter()
        .filter(|c| about_the_regime(&c.claim))
        .filter_map(|c| {
            let head = c.claim.a.head?;
            let count = |finetuned: bool| {
                analysis
                    .tuned
                    .iter()
                    .filter(|t| t.head == head && t.finetuned == Some(finetuned))
                    .map(|t| t.budget.len())
                    .max()
            };
            Some(format!(
                "{} {} fine-tuned against {} frozen",
                head.info().label,
                count(true)?,
                count(false)?
            ))
        })
        .collect();
    let lean = if budgets.is_empty() {
        String::new()
    } else {
        format!(
            ". Settings tuned over: {}; where one regime had more, the comparison leans its way",
            budgets.join(", ")
        )
    };
    (!parts.is_empty()).then(|| {
        format!(
            "**Does fine-tuning beat a frozen backbone?** (each head tuned on val in each regime; \
             simultaneous 95% CI{what}) {}{lean}.",
            parts.join("; ")
        )
    })
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
    head.map_or(fallback, |h| h.info().label)
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
            // "Useless" here means the loss does not depend on the bias (BN subtracts it); the twins still part,
            // and their accuracies with them: say by how much, so no reader takes "supported" for
            // "the runs agree".
            let differences: Vec<String> = c
                .rows
                .iter()
                .filter(|r| r.adjusted.mean.is_finite() && r.adjusted.mean != 0.0)
                .map(|r| {
                    format!(
                        "{} {} at {}/class",
                        diff_text(claim.metric, r.adjusted.mean),
                        ci_text(claim.metric, r.adjusted.lo(), r.adjusted.hi()),
                        r.train_per_class
                    )
                })
                .collect();
            let parted = if differences.is_empty() {
                String::new()
            } else {
                format!(
                    "; their {} differs by {}, which can only come from that rounding: in exact arithmetic BN cancels the bias, whatever its value",
                    claim.metric.column(),
                    differences.join(" and ")
                )
            };
            // Two functions equal in exact arithmetic whose interval still excludes 0: the
            // other rows of this training regime deserve the same caution.
            let caution = if c
                .rows
                .iter()
                .any(|r| r.adjusted.lo() > 0.0 || r.adjusted.hi() < 0.0)
            {
                " ⚠ an interval excluding 0 between two runs that compute the same function: in this regime, chance and rounding alone can give that, so read its other intervals as a first look"
            } else {
                ""
            };
            let parted = format!("{parted}{caution}");
            format!(
                "useless in the sense that the loss does not depend on it: BN subtracts its value, \
                 and its gradient is at most {grad:.1e}, float rounding (Adam, which divides by the \
                 gradient's own size, may still move the bias, to no effect on the loss); the twins' \
                 losses are not judged: once the backbone trains they part, by up to {loss:.1e}, as \
                 runs whose float rounding differs do{parted}"
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
        // What the intervals rule out, the farthest end over the sizes.
        let reach = c
            .rows
            .iter()
            .map(|r| r.adjusted.lo().abs().max(r.adjusted.hi().abs()))
            .fold(0.0f64, f64::max);
        format!(
            "largest mean effect {}; the intervals reach at most {}",
            diff_text(claim.metric, largest),
            diff_text(claim.metric, reach).trim_start_matches('+')
        )
    };
    let undirected = c
        .rows
        .iter()
        .all(|r| r.adjusted.lo() <= 0.0 && r.adjusted.hi() >= 0.0);
    let verdict = if all(Verdict::Equivalent) && claim.expect != Expect::Identical && undirected {
        format!(
            "**equivalent** at every size, no difference that matters: within ±{} ({numbers})",
            margin_text(claim)
        )
    } else {
        // One verdict for every size reads bold, as the other verdicts on this page do.
        let summary = c.summary();
        if summary.contains(';') {
            format!("{summary} ({numbers})")
        } else {
            format!("**{summary}** ({numbers})")
        }
    };
    format!(
        "**{}** — *{}* → {verdict}. [evidence](#{})",
        claim.id,
        claim.says.trim_end_matches('.'),
        anchor(&claim.id)
    )
}

/// The head claim's verdict at one size, said in terms of the heads.
fn head_words(claim: &Claim, row: &crate::contrast::ClaimRow) -> String {
    let (a, b) = (side_name(claim.a.head, "a"), side_name(claim.b.head, "b"));
    let mean = row.adjusted.mean;
    let (ahead, behind) = if mean > 0.0 { (a, b) } else { (b, a) };
    let gap = diff_text(claim.metric, mean.abs());
    let gap = gap.trim_start_matches('+');
    match row.verdict {
        Verdict::Equivalent if row.adjusted.lo() > 0.0 || row.adjusted.hi() < 0.0 => format!(
            "equivalent within ±{}, though {ahead} is ahead by {gap} {}",
            margin_text(claim),
            super::format::excludes_zero_note(row)
        ),
        Verdict::Equivalent => format!("equivalent within ±{}", margin_text(claim)),
        Verdict::Supported | Verdict::Contradicted => {
            format!("**{ahead} is better** by {gap} (significant)")
        }
        Verdict::Suggestive => format!(
            "{ahead} ahead of {behind} by {gap}: suggestive only ({})",
            super::format::untested_reason(row)
        ),
        Verdict::Unmeasured => "not measured".into(),
        Verdict::Inconclusive if row.diff.n < crate::contrast::FEW_SEEDS => format!(
            "inconclusive: {ahead} ahead of {behind} by {gap} with only {} seeds",
            row.diff.n
        ),
        Verdict::Inconclusive => {
            format!("not told apart ({ahead} ahead of {behind} by {gap}, not significant)")
        }
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
        (true, true) if c.rows.iter().all(|r| r.verdict == Verdict::Equivalent) => {
            "**Does it flip with data size?** No: the two are equivalent within the margin at every size.".into()
        }
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
