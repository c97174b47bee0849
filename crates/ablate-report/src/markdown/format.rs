//! How numbers, intervals, p-values and verdicts read in the Markdown.

use ablate_spec::{Claim, Compare, Expect, Metric};

use crate::contrast::{ClaimRow, DETECTABLE_TARGET, FEW_SEEDS};
use crate::stats::{ALPHA, Direction, Verdict, passes_table_tests};

/// The training pool per class (its smallest class) and, per grid size, the share of its images
/// two seeds' subsets have in common on average (n / pool). `None` without a data summary.
fn pool_shares(results: &crate::results::Results) -> Option<(usize, Vec<(usize, f64)>)> {
    let pool = results.manifest.data.as_ref()?.smallest_class_rows;
    if pool == 0 {
        return None;
    }
    let shares = results
        .experiment
        .config
        .grid
        .train_per_class
        .iter()
        .map(|&n| (n, n as f64 / pool as f64))
        .collect();
    Some((pool, shares))
}

/// Seeds sharing at least this share of their images: part of the subset draw never varies, and
/// the interval is narrower than a fresh training set's would be.
pub(crate) const HEAVY_OVERLAP: f64 = 0.25;

/// What the intervals cover, with the pool the seeds share: the seeds draw their training subsets
/// from one pool, so at a size near the pool's two seeds train on many of the same images and the
/// interval is conditional on that pool. `None` when the run recorded no data summary.
pub(crate) fn pool_overlap(
    results: &crate::results::Results,
    split_measured: bool,
) -> Option<String> {
    let (pool, shares) = pool_shares(results)?;
    let sizes: Vec<String> = shares
        .iter()
        .map(|(n, share)| format!("{n}/class: {:.0}%", 100.0 * share))
        .collect();
    let heavy = shares.iter().any(|(_, share)| *share >= HEAVY_OVERLAP);
    Some(format!(
        "**What the interval covers.** Every seed draws its training subset from the same pool of {pool} \
         images per class (its smallest class), so two seeds share on average n/{pool} of their images \
         ({}). The interval covers the training randomness *given this pool* (which of its images, the \
         initialisation, the batch order, the dropout draws) and a fresh test draw; it does not cover \
         drawing a new pool from the population.{}{}",
        sizes.join(", "),
        if heavy {
            " Where seeds share a quarter of their images or more, part of the subset draw never \
             varies, so that row's interval is narrower than a fresh training set's would be: read it \
             as a lower bound on that spread."
        } else {
            ""
        },
        if split_measured {
            " The seed split below measures how much narrower."
        } else {
            " This design does not separate the subset's share of the seed spread from \
             initialisation and order: cells that hold one part fixed (`held_fixed`) would."
        }
    ))
}

/// The first screen's short form of [`pool_overlap`], where it matters: "given this pool of 2000
/// images per class; at 1000/class two seeds share 50% of their images, so that interval is
/// narrower than a fresh training set's would be". `None` where no size shares a quarter or more.
pub(crate) fn pool_caveat(results: &crate::results::Results) -> Option<String> {
    let (pool, shares) = pool_shares(results)?;
    let at: Vec<String> = shares
        .iter()
        .filter(|(_, share)| *share >= HEAVY_OVERLAP)
        .map(|(n, share)| {
            format!(
                "at {n}/class two seeds share {:.0}% of their images",
                100.0 * share
            )
        })
        .collect();
    if at.is_empty() {
        return None;
    }
    Some(format!(
        "given this pool of {pool} images per class; {}, so that interval is narrower than a fresh training set's would be",
        at.join(", ")
    ))
}

/// A claim judged by exactness or by an exact count: its verdict needs no size or direction.
fn is_exact(claim: &Claim) -> bool {
    claim.expect == Expect::Identical || claim.metric == Metric::Params
}

pub(crate) fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

/// A difference in the claim's units: percentage points for accuracies.
pub(crate) fn diff_text(metric: Metric, x: f64) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    if metric.is_accuracy() {
        format!("{:+.2} pp", x * 100.0)
    } else if metric == Metric::Params {
        format!("{:+.0}", x)
    } else {
        format!("{:+.4}", x)
    }
}

pub(crate) fn ci_text(metric: Metric, lo: f64, hi: f64) -> String {
    if !(lo.is_finite() && hi.is_finite()) {
        return "n/a (one seed)".into();
    }
    format!("[{}, {}]", diff_text(metric, lo), diff_text(metric, hi))
}

pub(crate) fn p_text(p: f64) -> String {
    if p.is_finite() {
        format!("{p:.3}")
    } else {
        "—".into()
    }
}

pub(crate) fn margin_text(claim: &Claim) -> String {
    if claim.metric.is_accuracy() {
        format!("{} pp", claim.rope * 100.0)
    } else {
        format!("{}", claim.rope)
    }
}

/// A size without its sign: "0.51 pp".
fn magnitude(metric: Metric, x: f64) -> String {
    diff_text(metric, x.abs())
        .trim_start_matches('+')
        .to_string()
}

/// The way a row's judged interval points, in words: "the claim's way" / "the opposite way".
fn way(direction: Direction) -> &'static str {
    match direction {
        Direction::ForTheClaim => "the claim's way",
        Direction::AgainstTheClaim => "the opposite way",
    }
}

/// Why a row whose interval excludes 0 is only suggestive: the first table-wide test it fails.
pub(crate) fn untested_reason(row: &ClaimRow) -> String {
    match row.p_holm {
        Some(p) if p > ALPHA => format!("Holm p = {} over the whole table", p_text(p)),
        None => "not tested with the rest of the table".into(),
        _ => format!("sign-flip p = {}", p_text(row.p_flip)),
    }
}

/// "(its interval excludes 0; significant over the whole table)": what an equivalent row whose
/// interval still excludes 0 says of the table-wide tests (nothing when it was judged alone).
pub(crate) fn excludes_zero_note(row: &ClaimRow) -> String {
    let tested = match row.p_holm {
        None => String::new(),
        Some(_) if passes_table_tests(row.p_holm, row.p_flip) => {
            "; significant over the whole table".into()
        }
        Some(_) => format!(
            "; not significant over the whole table: {}",
            untested_reason(row)
        ),
    };
    format!("(its interval excludes 0{tested})")
}

/// A row's verdict and direction without its numbers, the key [`ClaimResult::summary`] groups
/// sizes by: "supported", "contradicted: the opposite way", "suggestive: the claim's way",
/// "equivalent within ±1 pp, though the opposite way".
///
/// [`ClaimResult::summary`]: crate::contrast::ClaimResult::summary
pub(crate) fn verdict_group(claim: &Claim, row: &ClaimRow) -> String {
    let exact = is_exact(claim);
    match (row.verdict, Direction::of(&row.adjusted, claim.expect)) {
        (Verdict::Contradicted, _) if !exact => "contradicted: the opposite way".into(),
        (Verdict::Suggestive, Some(d)) => format!("suggestive: {}", way(d)),
        (Verdict::Equivalent, Some(d)) => format!(
            "equivalent within ±{}, though {}",
            margin_text(claim),
            way(d)
        ),
        (v, _) => v.as_str().into(),
    }
}

/// What a group of sizes with one [`verdict_group`] adds: their effects where the group has a
/// direction (" (by 9.37, 11.56 pp)"), and for suggestive rows the test each failed.
pub(crate) fn verdict_group_detail(claim: &Claim, rows: &[&ClaimRow]) -> String {
    let exact = is_exact(claim);
    let directed = rows
        .iter()
        .all(|r| Direction::of(&r.adjusted, claim.expect).is_some());
    let sized = matches!(
        rows[0].verdict,
        Verdict::Supported | Verdict::Contradicted | Verdict::Suggestive | Verdict::Equivalent
    );
    if exact || !directed || !sized {
        return String::new();
    }
    let unit = if claim.metric.is_accuracy() {
        " pp"
    } else if claim.metric.is_loss() {
        " in the loss"
    } else {
        " in the ratio"
    };
    let sizes: Vec<String> = rows
        .iter()
        .map(|r| {
            magnitude(claim.metric, r.adjusted.mean)
                .trim_end_matches(" pp")
                .to_string()
        })
        .collect();
    let reasons: Vec<String> = match rows[0].verdict {
        Verdict::Suggestive => rows.iter().map(|r| untested_reason(r)).collect(),
        Verdict::Equivalent => rows
            .iter()
            .map(|r| {
                excludes_zero_note(r)
                    .trim_start_matches('(')
                    .trim_end_matches(')')
                    .replace("; ", ", ")
            })
            .collect(),
        _ => Vec::new(),
    };
    let mut detail = format!(" (by {}{unit}", sizes.join(", "));
    if !reasons.is_empty() {
        detail.push_str(&format!("; {}", reasons.join(", ")));
    }
    detail.push(')');
    detail
}

/// A row's verdict in a few plain words, with its direction and size wherever its judged
/// interval excludes 0: "supported, by 9.53 pp", "contradicted: the opposite way, by 1.26 pp",
/// "suggestive: the claim's way, by 1.90 pp (Holm p = 0.240 over the whole table)", "equivalent
/// within ±1 pp, though the opposite way by 0.51 pp (its interval excludes 0; significant over the
/// whole table)". The one wording of a verdict
/// that the answer, the verdict table's summaries, claims.csv and the README all carry.
pub(crate) fn verdict_label(claim: &Claim, row: &ClaimRow) -> String {
    let metric = claim.metric;
    let size = magnitude(metric, row.adjusted.mean);
    let exact = is_exact(claim);
    let direction = Direction::of(&row.adjusted, claim.expect);
    match (row.verdict, direction) {
        (Verdict::Supported, _) if exact => "supported".into(),
        (Verdict::Contradicted, _) if exact => "contradicted".into(),
        (Verdict::Supported, _) => format!("supported, by {size}"),
        (Verdict::Contradicted, _) => format!("contradicted: the opposite way, by {size}"),
        (Verdict::Suggestive, Some(d)) => {
            format!(
                "suggestive: {}, by {size} ({})",
                way(d),
                untested_reason(row)
            )
        }
        (Verdict::Suggestive, None) => "suggestive".into(),
        (Verdict::Equivalent, Some(d)) => format!(
            "equivalent within ±{}, though {} by {size} {}",
            margin_text(claim),
            way(d),
            excludes_zero_note(row)
        ),
        (v, _) => v.as_str().into(),
    }
}

/// The verdict of a row in words for the verdict table: [`verdict_label`] in bold (suggestive in
/// italics), "**equivalent** within ±1 pp", "inconclusive (~14 seeds ...)".
pub(crate) fn verdict_words(claim: &Claim, row: &ClaimRow) -> String {
    if claim.expect == Expect::Identical {
        return verdict_text(row.verdict).to_string();
    }
    let words = directional_words(claim, row);
    match few_seeds_note(row.diff.n) {
        Some(note) => format!("{words} ⚠ {note}"),
        None => words,
    }
}

/// With fewer than [`FEW_SEEDS`] seeds: how few, and the floor of the sign-flip test.
pub(crate) fn few_seeds_note(seeds: usize) -> Option<String> {
    (seeds < FEW_SEEDS).then(|| {
        format!(
            "only {seeds} seeds: their spread is itself uncertain (no seeds hint), and the sign-flip test cannot go below p = {}",
            p_text(2.0 / 2f64.powi(seeds as i32))
        )
    })
}

fn directional_words(claim: &Claim, row: &ClaimRow) -> String {
    let (metric, i) = (claim.metric, &row.adjusted);
    match row.verdict {
        Verdict::Supported | Verdict::Contradicted => format!("**{}**", verdict_label(claim, row)),
        Verdict::Suggestive => format!("*{}*", verdict_label(claim, row)),
        Verdict::Equivalent if Direction::of(i, claim.expect).is_none() => {
            format!("**equivalent** within ±{}", margin_text(claim))
        }
        Verdict::Equivalent => format!("**{}**", verdict_label(claim, row)),
        Verdict::Unmeasured => format!(
            "not measured: {}",
            row.degenerate.map_or("no measurement", |d| d.words())
        ),
        Verdict::Inconclusive if row.diff.n < FEW_SEEDS => "inconclusive".into(),
        Verdict::Inconclusive => match row.seeds_needed {
            Some(n) if n > 100 => format!(
                "inconclusive (more seeds are unlikely to settle it: over 100 needed at this mean and spread; margin ±{})",
                margin_text(claim)
            ),
            Some(n) => format!(
                "inconclusive (~{n} seeds would settle it, {}, if mean and spread hold; margin ±{})",
                // The nearer of the two ways out: fit inside the margin, or exclude 0.
                if claim.rope - i.mean.abs() > i.mean.abs() {
                    "toward equivalence"
                } else {
                    "toward a difference"
                },
                margin_text(claim)
            ),
            None => match row.test_limited {
                Some(floor) => format!(
                    "inconclusive (at this mean, more seeds alone will not settle it: the test split's own noise, ±{}, is larger than the effect or the room left in the margin; a larger test split would)",
                    diff_text(metric, floor).trim_start_matches('+')
                ),
                None => "inconclusive".into(),
            },
        },
    }
}

pub(crate) fn verdict_text(v: Verdict) -> &'static str {
    match v {
        Verdict::Supported => "**supported**",
        Verdict::Contradicted => "**contradicted**",
        Verdict::Equivalent => "**equivalent**",
        Verdict::Inconclusive => "inconclusive",
        Verdict::Unmeasured => "not measured",
        Verdict::Suggestive => "*suggestive*",
    }
}

/// "supported / equivalent": the verdicts at half and at twice the margin, "—" where there are none.
pub(crate) fn sensitivity_text(row: &ClaimRow) -> String {
    row.sensitivity.map_or("—".into(), |s| {
        format!("{} / {}", s.half_margin.as_str(), s.twice_margin.as_str())
    })
}

/// The smallest effect the row could have detected, and the seeds that would bring it to 1 pp.
pub(crate) fn detectable_text(metric: Metric, row: &ClaimRow) -> String {
    let Some(d) = row.detectable else {
        return "—".into();
    };
    let effect = diff_text(metric, d);
    let effect = effect.trim_start_matches('+');
    if !metric.is_accuracy() || d <= DETECTABLE_TARGET {
        return format!("±{effect}");
    }
    match row.seeds_for_detectable {
        Some(n) => format!("±{effect} (±1 pp at ~{n} seeds)"),
        None if row.diff.n < FEW_SEEDS => format!("±{effect}"),
        None => format!("±{effect} (not 1 pp with this test split)"),
    }
}

/// "5/8" seeds on the claim's side, with ties said apart: "4/8, 1 tie".
pub(crate) fn agree_text(row: &ClaimRow) -> String {
    match row.ties {
        0 => format!("{}/{}", row.agree, row.diff.n),
        1 => format!("{}/{}, 1 tie", row.agree, row.diff.n),
        t => format!("{}/{}, {t} ties", row.agree, row.diff.n),
    }
}

pub(crate) fn contrast_text(claim: &Claim) -> String {
    if claim.expect == Expect::Identical {
        return format!(
            "training curves of ({}) vs ({})",
            claim.a.describe(),
            claim.b.describe()
        );
    }
    let (a, b) = (claim.a.describe(), claim.b.describe());
    let (a, b) = match claim.compare {
        Compare::All => (format!("({a})"), format!("({b})")),
        Compare::Best => (format!("({a})"), format!("best of ({b})")),
        Compare::Tuned => (format!("tuned ({a})"), format!("tuned ({b})")),
    };
    format!("{} of {a} − {b}", claim.metric.column())
}
