//! What the report derives from the numbers beyond the declared claims: the tuned head per family
//! and size (chosen on val) and what to use per size.

use ablate_spec::{HeadKind, HeadVariant, Metric, Selector, Switch};

use crate::contrast::{Contrast, pair_if_any};
use crate::error::ReportError;
use crate::regimes::Regimes;
use crate::results::Results;
use crate::stats;
use crate::summary::VariantRow;

/// What to use at one training size, derived from the numbers.
#[derive(Debug, Clone)]
pub struct Pick {
    pub train_per_class: u64,
    pub best: VariantRow,
    /// Variants not significantly worse than `best` on val: the paired 95% interval of their
    /// difference to it contains 0.
    pub tied: Vec<VariantRow>,
    /// What to use: `best`, or the smallest tied variant when it has at most half the parameters
    /// and its paired interval to the best lies within ±[`EQUIVALENCE`].
    pub recommended: VariantRow,
}

/// How much smaller a tied variant must be to be recommended over the best: at most this share of
/// its parameters. A few parameters (a last-layer bias) are no reason to give up the best mean.
pub const SMALLER: f64 = 0.5;

/// The margin within which a smaller variant counts as as good as the best (one accuracy point).
pub const EQUIVALENCE: f64 = 0.01;

/// The row of best mean validation accuracy; exact ties go to the first in grid order. The one
/// rule every choice of the report uses (tuned heads, what to use).
pub fn best_on_val<'a>(rows: impl IntoIterator<Item = &'a VariantRow>) -> Option<&'a VariantRow> {
    rows.into_iter()
        .fold(None, |best: Option<&VariantRow>, row| match best {
            Some(b) if row.val.mean <= b.val.mean => Some(b),
            _ => Some(row),
        })
}

/// Per size: the best mean val accuracy, the variants tied with it (not significantly worse: the
/// paired 95% interval of the per-seed difference contains 0), and what to use.
pub fn recommendations(
    results: &Results,
    rows: &[VariantRow],
    sizes: &[u64],
) -> Result<Vec<Pick>, ReportError> {
    let mut picks = Vec::new();
    for &size in sizes {
        let at: Vec<&VariantRow> = rows.iter().filter(|r| r.train_per_class == size).collect();
        let Some(best) = best_on_val(at.iter().copied()) else {
            continue;
        };
        let best_variant = results
            .variant(&best.variant)
            .ok_or_else(|| ReportError::Input {
                path: "runs".into(),
                message: format!("unknown variant {}", best.variant),
            })?;
        let mut tied = Vec::new();
        let mut equivalent: Vec<String> = Vec::new();
        for row in at.iter().filter(|r| r.variant != best.variant) {
            let Some(variant) = results.variant(&row.variant) else {
                continue;
            };
            let lead = val_lead(results, variant, best_variant, size)?.ok_or_else(|| {
                ReportError::Input {
                    path: "runs".into(),
                    message: format!(
                        "no seed pairs {} with the best variant {} at {size}/class",
                        row.variant, best.variant
                    ),
                }
            })?;
            let contains_zero = !(lead.lo() > 0.0 || lead.hi() < 0.0) || !lead.half.is_finite();
            if contains_zero {
                tied.push((*row).clone());
            }
            // Not significantly worse is not "as good": to replace the best, a smaller variant's
            // whole interval must lie within the margin.
            if lead.lo() > -EQUIVALENCE && lead.hi() < EQUIVALENCE {
                equivalent.push(row.variant.clone());
            }
        }
        // Fewest parameters; among equally small, the best mean (then grid order).
        let smallest = tied
            .iter()
            .fold(None, |small: Option<&VariantRow>, row| match small {
                Some(s)
                    if row.params > s.params
                        || (row.params == s.params && row.val.mean <= s.val.mean) =>
                {
                    Some(s)
                }
                _ => Some(row),
            });
        let recommended = match smallest {
            Some(s)
                if (s.params as f64) <= SMALLER * best.params as f64
                    && equivalent.contains(&s.variant) =>
            {
                s.clone()
            }
            _ => best.clone(),
        };
        picks.push(Pick {
            train_per_class: size,
            best: best.clone(),
            tied,
            recommended,
        });
    }
    Ok(picks)
}

/// The variant next to a tuned choice on val.
#[derive(Debug, Clone, PartialEq)]
pub struct RunnerUp {
    pub variant: String,
    /// How far behind the chosen variant it is, in mean val accuracy.
    pub behind: f64,
    /// The standard error of that lead over the paired seeds (NaN below two seeds).
    pub se: f64,
}

/// The selection protocol's result for one head family at one size: the variant of best mean
/// validation accuracy (its hyperparameters, chosen on val), reported with its test accuracy.
#[derive(Debug, Clone)]
pub struct Tuned {
    pub head: HeadKind,
    pub row: VariantRow,
    /// The next best variant of the same head and size: a lead below its standard error is not
    /// settled.
    pub runner_up: Option<RunnerUp>,
    /// The chosen values, as `key=value` (the switches the grid sweeps).
    pub chosen: String,
    /// Where the grid has both regimes, each is tuned on its own (`Some(true)`: fine-tuned), since
    /// the asker's question is which head to put on the backbone *in* a regime; `None` otherwise.
    pub finetuned: Option<bool>,
}

impl Tuned {
    /// "mlp", or "mlp, fine-tuned" / "mlp, frozen" where the grid has both regimes.
    pub fn label(&self) -> String {
        match self.finetuned {
            None => self.head.to_string(),
            Some(true) => format!("{}, fine-tuned", self.head),
            Some(false) => format!("{}, frozen", self.head),
        }
    }
}

/// Per size, per head family (in grid order) and, where the grid has both, per backbone regime:
/// the tuned row, chosen by [`best_on_val`].
pub fn tuned_rows(results: &Results, rows: &[VariantRow]) -> Result<Vec<Tuned>, ReportError> {
    let per_regime = Regimes::of(&results.experiment) == Regimes::Both;
    // Every row's variant is the grid's (`Results::new` refuses others).
    let key_of = |row: &VariantRow| {
        let regime =
            per_regime.then(|| results.variant(&row.variant).is_some_and(|v| v.finetuned()));
        (row.train_per_class, row.head.clone(), regime)
    };
    let mut keys: Vec<(u64, String, Option<bool>)> = Vec::new();
    let mut row_keys = Vec::with_capacity(rows.len());
    for row in rows {
        let key = key_of(row);
        if !keys.contains(&key) {
            keys.push(key.clone());
        }
        row_keys.push(key);
    }
    // Size, then regime (frozen first), heads in grid order within.
    keys.sort_by_key(|(size, _, regime)| (*size, *regime));
    let mut tuned = Vec::new();
    for key in keys {
        let (size, _, finetuned) = key.clone();
        let in_key = || {
            rows.iter()
                .zip(&row_keys)
                .filter(|(_, k)| **k == key)
                .map(|(r, _)| r)
        };
        let row = best_on_val(in_key()).expect("every key has a row");
        let variant = results
            .variant(&row.variant)
            .ok_or_else(|| ReportError::Input {
                path: "runs".into(),
                message: format!("unknown variant {}", row.variant),
            })?;
        let runner_up = match best_on_val(in_key().filter(|r| r.variant != row.variant)) {
            Some(r) => {
                let second = results
                    .variant(&r.variant)
                    .ok_or_else(|| unknown_variant(&r.variant))?;
                let lead = val_lead(results, variant, second, size)?;
                Some(RunnerUp {
                    variant: r.variant.clone(),
                    behind: row.val.mean - r.val.mean,
                    // NaN below two paired seeds (no spread), or with none (results merged with
                    // cells missing): the lead then reads "not settled".
                    se: lead.map_or(f64::NAN, |l| l.sd / (l.n as f64).sqrt()),
                })
            }
            None => None,
        };
        tuned.push(Tuned {
            head: variant.kind(),
            row: row.clone(),
            runner_up,
            chosen: swept_settings(results, variant),
            finetuned,
        });
    }
    Ok(tuned)
}

/// `a`'s val-accuracy lead over `b` at `size`: the paired differences over seeds, with their 95%
/// t interval (val only chooses, so no test images are resampled); `None` when no seed has both.
fn val_lead(
    results: &Results,
    a: &HeadVariant,
    b: &HeadVariant,
    size: u64,
) -> Result<Option<stats::Interval>, ReportError> {
    let contrast = Contrast::new(
        format!("{} vs {}", a.name(), b.name()),
        Selector::exactly(a),
        Selector::exactly(b),
        Metric::ValAcc,
    )
    .at(size);
    let Some(paired) = pair_if_any(results, &contrast)? else {
        return Ok(None);
    };
    Ok(paired.sizes.first().map(|diffs| {
        let n = diffs.diffs.len();
        stats::Interval {
            n,
            mean: diffs.mean,
            sd: diffs.sd,
            half: stats::half_width(n, diffs.sd),
        }
    }))
}

fn unknown_variant(name: &str) -> ReportError {
    ReportError::Input {
        path: "runs".into(),
        message: format!("unknown variant {name}"),
    }
}

/// The variant's values of the switches the grid sweeps (what the choice chose): `bias_before_bn=true,
/// relu=false, backbone=finetune`; the settings every variant shares are in the setup.
fn swept_settings(results: &Results, variant: &HeadVariant) -> String {
    let grid = &results.experiment.config.grid;
    let parts: Vec<String> = Switch::all()
        .filter(|s| grid.sweeps(*s))
        .filter_map(|s| variant.get(s).map(|v| format!("{}={v}", s.key())))
        .collect();
    if parts.is_empty() {
        "none swept for this head".into()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contrast::tests::diffs;
    use crate::summary::variant_summary;
    use crate::testing::{self, Cell};

    /// What to use never calls a significantly worse variant tied, however small the gap; a noisy
    /// one is tied; and a few parameters saved are no reason to leave the best.
    #[test]
    fn a_significantly_worse_variant_is_never_tied() {
        let experiment = testing::experiment(
            r#"
name = "ties"
claims = []
[data]
kind = "features"
path = "f.safetensors"
[grid]
head = ["mlp"]
dropout = [0.0, 0.25, 0.5]
last_bias = [true, false]
train_per_class = [10]
seeds = [0, 1, 2, 3, 4]
"#,
        );
        // drop0: best; drop0.25: 0.3 pp worse at every seed (spread 0.02 pp); drop0.5: as good on
        // average, noisy. Without the last bias: 4 parameters fewer, same accuracy.
        let worse = diffs(-0.003, 0.0002);
        let noisy = diffs(0.0, 0.01);
        let results = testing::results(experiment, None, |v, _, seed| {
            let p = v.dropout();
            let d = if p == 0.0 {
                0.0
            } else if p == 0.25 {
                worse[seed as usize]
            } else {
                noisy[seed as usize] - 0.0001
            };
            let mut cell = Cell::acc(1.0, 0.8 + d, 0.8 + d);
            cell.params = if v.is_on(ablate_spec::Switch::LastBias) {
                14
            } else {
                10
            };
            cell
        });
        let (_, rows) = variant_summary(&results).unwrap();
        let picks = recommendations(&results, &rows, &[10]).unwrap();
        let pick = &picks[0];
        assert_eq!(pick.best.variant, "mlp-bias1-relu1-drop0-last1");
        let tied: Vec<&str> = pick.tied.iter().map(|r| r.variant.as_str()).collect();
        assert!(!tied.iter().any(|v| v.contains("drop0.25")), "{tied:?}");
        assert!(tied.contains(&"mlp-bias1-relu1-drop0.5-last1"), "{tied:?}");
        // The twin without the last bias is tied (same numbers) and has 10 of 14 parameters: more
        // than half, so the best stays the recommendation.
        assert!(tied.contains(&"mlp-bias1-relu1-drop0-last0"), "{tied:?}");
        assert_eq!(pick.recommended.variant, pick.best.variant);
    }
}

#[cfg(test)]
mod regime_tests {
    use crate::testing::{self, Cell};

    /// With both backbone regimes in the grid, each head is tuned within each regime (the asker's
    /// question is asked in one regime), and the tuned table says which.
    #[test]
    fn both_regimes_are_tuned_apart() {
        let experiment = testing::experiment(
            r#"
name = "regimes"
[data]
kind = "image-folder"
root = "data/flowers"
val_fraction = 0.2
test_fraction = 0.2
[backbone]
arch = "efficientnet-lite0"
weights = "lite0.pth"
image_size = 64
[grid]
head = ["mlp", "linear"]
backbone = ["frozen", "finetune"]
bias_before_bn = [true, false]
train_per_class = [25]
seeds = [0, 1, 2]
"#,
        );
        // Fine-tuning wins overall, so a regime-blind choice would pick it for both heads.
        let results = testing::results(experiment, None, |v, _, seed| {
            let ft = if v.finetuned() { 0.1 } else { 0.0 };
            let bias = if v.is_on(ablate_spec::Switch::BiasBeforeBn) {
                0.01
            } else {
                0.0
            };
            let acc = 0.6 + ft + bias + 0.001 * seed as f64;
            Cell::acc(0.9, acc, acc)
        });
        let tuned = crate::analysis::analyse(&results).unwrap().tuned;
        let chosen: Vec<(String, &str)> = tuned
            .iter()
            .map(|t| (t.label(), t.row.variant.as_str()))
            .collect();
        assert_eq!(
            chosen,
            [
                ("mlp, frozen".to_string(), "mlp-bias1-relu1-drop0-last1"),
                ("linear, frozen".to_string(), "linear-last1"),
                (
                    "mlp, fine-tuned".to_string(),
                    "mlp-bias1-relu1-drop0-last1-ft"
                ),
                ("linear, fine-tuned".to_string(), "linear-last1-ft"),
            ]
        );
    }
}
