//! The evidence: the figures, and per claim its contrast and per-pair table.

use std::fmt::Write as _;

use ablate_spec::Expect;

use super::Context;
use super::format::{ci_text, contrast_text, diff_text};
use crate::analysis::Analysis;
use crate::contrast::ClaimResult;
use crate::error::ReportError;
use crate::figure_table::{
    ACCURACY_BY_AXIS, ACCURACY_BY_SIZE, BIAS_GRAD_BY_EPOCH, FINAL_ACCURACY, FigureSpec,
    LOSS_BY_EPOCH, VAL_ACC_BY_EPOCH, VAL_ACC_BY_SIZE, VARIANCE_SHIFT,
};
use crate::frame::{f64s, strings};
use crate::interactions::Strata;

pub fn write(w: &mut String, analysis: &Analysis, context: &Context) -> Result<(), ReportError> {
    let (claims, dropout) = (&analysis.claims, &analysis.dropout);
    let variance_figure = context.figures.contains(&VARIANCE_SHIFT.stem);
    let _ = writeln!(w, "## Evidence\n");
    let figure = |w: &mut String, spec: &FigureSpec| {
        let (stem, alt) = (spec.stem, spec.alt);
        let _ = writeln!(w, "![{alt}]({stem}.png)\n\n([SVG]({stem}.svg))\n");
    };
    let _ = writeln!(w, "### Which head, at which data size\n");
    figure(w, &ACCURACY_BY_SIZE);
    if context.figures.contains(&ACCURACY_BY_AXIS.stem) {
        let _ = writeln!(w, "### The tuned settings and the grid's edges\n");
        figure(w, &ACCURACY_BY_AXIS);
        let _ = writeln!(
            w,
            "A line per tuned head and size, through the settings that differ from its choice in \
             that one setting; a head whose choice the grid does not vary in a setting has no line \
             there (the budget blocks vary the settings around the asker's heads, so a choice \
             elsewhere may have none). A choice at a line's end is at the grid's edge.\n"
        );
    }
    let _ = writeln!(w, "### Accuracy per variant\n");
    figure(w, &FINAL_ACCURACY);
    if context.figures.contains(&VAL_ACC_BY_SIZE.stem) {
        let _ = writeln!(
            w,
            "Each figure names a variant the same way; a figure with more variants than it can \
             tell apart draws the best few in colour and the rest in grey. A legend entry whose line \
             cannot be seen lies under another: the two agree to within the line's width (a bias \
             before BN without a ReLU is one such pair: claim A).\n"
        );
    }
    figure(w, &VAL_ACC_BY_SIZE);
    figure(w, &VAL_ACC_BY_EPOCH);
    if context.figures.contains(&LOSS_BY_EPOCH.stem) {
        figure(w, &LOSS_BY_EPOCH);
    }
    for (c, strata) in claims.iter().zip(&analysis.strata) {
        let _ = writeln!(
            w,
            "<a id=\"{}\"></a>\n\n### Claim {}: {}\n",
            super::answer::anchor(&c.claim.id),
            c.claim.id,
            c.claim.says
        );
        if let Some(notes) = &c.claim.notes {
            let _ = writeln!(w, "{}\n", notes.trim_end());
        }
        let _ = writeln!(
            w,
            "Measured as {}; expected: {}. Verdict: {}.\n",
            contrast_text(&c.claim),
            match c.claim.expect {
                Expect::Higher => "a − b > 0",
                Expect::Lower => "a − b < 0",
                Expect::Identical => "identical training",
            },
            c.summary()
        );
        if c.claim.expect == Expect::Identical {
            figure(w, &BIAS_GRAD_BY_EPOCH);
        }
        pairs_table(w, c)?;
        interactions(w, c, strata);
    }
    if variance_figure {
        let _ = writeln!(w, "### Variance shift (BatchNorm)\n");
        let _ = writeln!(
            w,
            "`bn_var_ratio`: BN's running variance divided by the variance of BN's input over the \
             cell's own training rows in eval mode (no dropout), median over BN's features (a mean \
             would be decided by the few units a ReLU leaves nearly dead). Measured on the rows the \
             running statistics were learned from, a head without dropout upstream of BN reads about 1 \
             at every size, so what remains is the shift dropout upstream of BN causes (Li et al., \
             CVPR 2019). Their 1/(1−p) is for dropout right before BN on centred inputs; where the \
             dropout sits earlier (the backbone's dropout on the features, before a Linear and a ReLU) \
             no closed form applies, so the ratio is measured, not predicted. What the shift costs is \
             measured too (`bn_refit_gain`): each cell is also evaluated with BN's statistics \
             recomputed over the same training rows without dropout, on the same test images; the \
             gain isolates the shift from what dropout does as a regularizer. The running variance \
             starts at 1 and after k steps (momentum 0.1) still holds 0.9^k of it, which would lift \
             the ratio where BN's input variance is small: it is corrected as Adam corrects its \
             moments, `(running − 0.9^k) / (1 − 0.9^k)`. Beside it, the accuracy of the same variants.\n"
        );
        let finetuned = analysis.rows.iter().any(|r| {
            r.bn_var_ratio.is_some()
                && r.variant
                    .parse::<ablate_spec::HeadVariant>()
                    .is_ok_and(|v| v.finetuned())
        });
        if finetuned {
            let _ = writeln!(
                w,
                "Fine-tuned cells read differently: the backbone changes while BN's running \
                 statistics average over it, so the running variance lags the final backbone's \
                 features. Features whose scale grows during fine-tuning read below 1 even without \
                 dropout; there the ratio measures that lag as well as any shift from dropout.\n"
            );
        }
        figure(w, &VARIANCE_SHIFT);
    }
    if !dropout.is_empty() {
        let _ = writeln!(w, "### Dropout (not a claim of the thread)\n");
        for c in dropout {
            let _ = writeln!(w, "{}:\n", c.claim.says);
            pairs_table(w, c)?;
        }
    }

    Ok(())
}

fn pairs_table(w: &mut String, c: &ClaimResult) -> Result<(), ReportError> {
    let f = &c.pairs;
    let a = strings(f, "a_variant")?;
    let b = strings(f, "b_variant")?;
    let sizes = strings(f, "train_per_class")?;
    let seeds = strings(f, "seeds")?;
    let mean = f64s(f, "diff_mean")?;
    let lo = f64s(f, "diff_ci_lo")?;
    let hi = f64s(f, "diff_ci_hi")?;
    let agree = strings(f, "agree")?;
    let _ = writeln!(
        w,
        "| per class | a | b | seeds | mean a − b | 95% CI (this pair, seeds only, unadjusted) | seeds agreeing |\n|---|---|---|---|---|---|---|"
    );
    // Pairs whose shown numbers are the same (a parameter count repeats over every pair that
    // differs in a setting the count ignores) are one row, with how many it stands for; every
    // pair is in the claim's contrast CSV.
    let mut rows: Vec<(String, String, String, usize)> = Vec::new();
    for i in 0..f.height() {
        // Agreeing with an identity claim would only count rounding's coin flips.
        let agreeing = if c.claim.expect == Expect::Identical {
            "—".to_string()
        } else {
            format!("{}/{}", agree[i], seeds[i])
        };
        let numbers = format!(
            "{} | {} | {} | {agreeing}",
            seeds[i],
            diff_text(c.claim.metric, mean[i]),
            ci_text(c.claim.metric, lo[i], hi[i]),
        );
        let key = format!("{} | {numbers}", sizes[i]);
        match rows.iter_mut().find(|r| r.0 == key) {
            Some(row) => row.3 += 1,
            None => rows.push((key, a[i].clone(), b[i].clone(), 1)),
        }
    }
    let collapsed = rows.iter().any(|r| r.3 > 1);
    for (key, a, b, n) in rows {
        let (size, numbers) = key.split_once(" | ").unwrap_or((&key, ""));
        let more = match n {
            1 => String::new(),
            2 => " and 1 more pair with the same numbers".to_string(),
            n => format!(" and {} more pairs with the same numbers", n - 1),
        };
        let _ = writeln!(w, "| {size} | `{a}` | `{b}`{more} | {numbers} |");
    }
    if collapsed {
        let _ = writeln!(
            w,
            "\nEvery pair, one row each: `contrast-{}.csv`.",
            c.claim.id
        );
    }
    let _ = writeln!(w);
    Ok(())
}

/// Whether the claim's sign depends on another switch: words where it flips or leans, the strata
/// behind them, and the switches along which it does not change sign.
fn interactions(w: &mut String, c: &ClaimResult, strata: &[Strata]) {
    if strata.is_empty() {
        return;
    }
    let metric = c.claim.metric;
    let value_text = |s: &Strata, v: &ablate_spec::Value| {
        let declared = if s.declared == Some(*v) {
            " (as declared)"
        } else {
            ""
        };
        format!("{}={v}{declared}", s.switch.key())
    };
    let moving: Vec<&Strata> = strata
        .iter()
        .filter(|s| !s.flips.is_empty() || !s.leans.is_empty())
        .collect();
    let steady: Vec<&str> = strata
        .iter()
        .filter(|s| s.flips.is_empty() && s.leans.is_empty())
        .map(|s| s.switch.key())
        .collect();
    for s in &moving {
        let sizes = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
        if !s.flips.is_empty() {
            let _ = writeln!(
                w,
                "**Its sign depends on `{}`** at {}/class: the difference is significant in opposite directions in two of its strata.\n",
                s.switch.key(),
                sizes(&s.flips)
            );
        } else {
            let _ = writeln!(
                w,
                "**It leans with `{}`** at {}/class: one stratum is significant, another's mean has the other sign.\n",
                s.switch.key(),
                sizes(&s.leans)
            );
        }
        let _ = writeln!(
            w,
            "| {} | per class | mean a − b | 95% CI |\n|---|---|---|---|",
            s.switch.key()
        );
        for (v, rows) in &s.by_value {
            for (size, i) in rows {
                let _ = writeln!(
                    w,
                    "| {} | {size} | {} | {} |",
                    value_text(s, v),
                    diff_text(metric, i.mean),
                    ci_text(metric, i.lo(), i.hi())
                );
            }
        }
        let _ = writeln!(w);
    }
    if !steady.is_empty() {
        let _ = writeln!(
            w,
            "No sign change when split by {}.\n",
            steady
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}
