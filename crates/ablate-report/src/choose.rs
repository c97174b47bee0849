//! What the report derives from the numbers beyond the declared claims: the tuned head per family
//! and size (chosen on val), what to use per size, and the dropout contrasts shown for context.

use ablate_spec::{Claim, Expect, HeadKind, Metric, Selector, Switch};

use crate::contrast::{ClaimResult, judge_claim};
use crate::error::ReportError;
use crate::results::Results;
use crate::stats::Verdict;
use crate::summary::VariantRow;

/// Dropout p - 0 for every p > 0 of the grid, on test when there is a test split (not a claim of the
/// thread; shown for context).
pub fn dropout_contrasts(
    results: &Results,
    has_test: bool,
) -> Result<Vec<ClaimResult>, ReportError> {
    let mut rates: Vec<f64> = results
        .variants
        .iter()
        .filter(|v| v.kind() == HeadKind::Mlp)
        .map(|v| v.dropout())
        .collect();
    rates.sort_by(f64::total_cmp);
    rates.dedup();
    if !rates.contains(&0.0) {
        return Ok(Vec::new());
    }
    rates
        .iter()
        .filter(|p| **p > 0.0)
        .map(|p| {
            let mlp_with = |rate| Selector::head(HeadKind::Mlp).number(Switch::Dropout, rate);
            let claim = Claim::contrast(
                format!("dropout{p}"),
                format!("dropout {p} instead of none (not a claim of the thread)"),
                if has_test {
                    Metric::TestAcc
                } else {
                    Metric::ValAcc
                },
                mlp_with(*p),
                mlp_with(0.0),
                Expect::Higher,
            );
            judge_claim(results, &claim)
        })
        .collect()
}

/// What to use at one training size, derived from the numbers.
#[derive(Debug, Clone)]
pub struct Pick {
    pub train_per_class: u64,
    pub best: VariantRow,
    /// Variants whose paired difference to `best` has a 95% CI that contains 0.
    pub tied: Vec<VariantRow>,
    /// The smallest (fewest parameters) of `best` and `tied`.
    pub smallest: VariantRow,
}

/// Per size: the best mean val accuracy, the variants statistically tied with it (paired t interval
/// of the per-seed difference contains 0), and the smallest of those.
pub fn recommendations(
    results: &Results,
    rows: &[VariantRow],
    sizes: &[u64],
) -> Result<Vec<Pick>, ReportError> {
    let mut picks = Vec::new();
    for &size in sizes {
        let at: Vec<&VariantRow> = rows.iter().filter(|r| r.train_per_class == size).collect();
        let Some(best) = at
            .iter()
            .copied()
            .max_by(|a, b| a.val.mean.total_cmp(&b.val.mean))
        else {
            continue;
        };
        let best_variant = results
            .variant(&best.variant)
            .ok_or_else(|| ReportError::Input {
                path: "runs".into(),
                message: format!("unknown variant {}", best.variant),
            })?;
        let mut tied = Vec::new();
        for row in at.iter().filter(|r| r.variant != best.variant) {
            let Some(variant) = results.variant(&row.variant) else {
                continue;
            };
            let claim = Claim {
                train_per_class: Some(vec![size as usize]),
                ..Claim::contrast(
                    "tie",
                    "",
                    Metric::ValAcc,
                    Selector::exactly(variant),
                    Selector::exactly(best_variant),
                    Expect::Lower,
                )
            };
            let judged = judge_claim(results, &claim)?;
            if judged.rows.iter().all(|r| r.verdict != Verdict::Supported) {
                tied.push((*row).clone());
            }
        }
        let smallest = std::iter::once(best)
            .chain(tied.iter())
            .min_by_key(|r| r.params)
            .cloned()
            .expect("best is always a candidate");
        picks.push(Pick {
            train_per_class: size,
            best: best.clone(),
            tied,
            smallest,
        });
    }
    Ok(picks)
}

/// The selection protocol's result for one head family at one size: the variant of best mean
/// validation accuracy (its hyperparameters, chosen on val), reported with its test accuracy.
#[derive(Debug, Clone)]
pub struct Tuned {
    pub head: String,
    pub row: VariantRow,
    /// The chosen values, as `key=value` (every switch the head has).
    pub chosen: String,
}

/// Per size, per head family (in grid order): the tuned row. Ties go to the grid's first variant.
pub fn tuned_rows(results: &Results, rows: &[VariantRow]) -> Result<Vec<Tuned>, ReportError> {
    let mut tuned: Vec<Tuned> = Vec::new();
    for row in rows {
        let variant = results
            .variant(&row.variant)
            .ok_or_else(|| ReportError::Input {
                path: "runs".into(),
                message: format!("unknown variant {}", row.variant),
            })?;
        let candidate = Tuned {
            head: row.head.clone(),
            row: row.clone(),
            chosen: Selector::exactly(variant).describe(),
        };
        match tuned
            .iter_mut()
            .find(|t| t.head == row.head && t.row.train_per_class == row.train_per_class)
        {
            Some(t) if row.val.mean > t.row.val.mean => *t = candidate,
            Some(_) => {}
            None => tuned.push(candidate),
        }
    }
    Ok(tuned)
}
