//! Which cells pair and which variants a contrast keeps: a cell of variant `a` is matched with the
//! cell of variant `b` at the same training size and seed (the same training subset, initialisation
//! stream and batch order), and `compare = "best"`/`"tuned"` choose on val. The joins and the
//! aggregations are polars'; what leaves this module is typed rows, in grid order.

use ablate_results::columns::runs as rc;
use ablate_spec::{Claim, Compare, HeadVariant, Metric, Selector, variant_pairs};
use polars::prelude::*;

use crate::error::ReportError;
use crate::frame::{f64s, strings, u64s};
use crate::results::Results;

/// What is compared: the `a - b` difference of `metric` over the variant pairs of two selectors,
/// per training size and seed. Claims, their strata, the ties of "what to use" and the runner-up's
/// lead all measure one of these.
#[derive(Debug, Clone, PartialEq)]
pub struct Contrast {
    /// Names the contrast in messages.
    pub id: String,
    pub a: Selector,
    pub b: Selector,
    pub metric: Metric,
    pub compare: Compare,
    /// Only these training sizes (default: every size of the results).
    pub sizes: Option<Vec<usize>>,
}

impl Contrast {
    /// Every matching pair, averaged per seed, at every size.
    pub fn new(id: impl Into<String>, a: Selector, b: Selector, metric: Metric) -> Self {
        Contrast {
            id: id.into(),
            a,
            b,
            metric,
            compare: Compare::All,
            sizes: None,
        }
    }

    /// The contrast a claim measures.
    pub fn of(claim: &Claim) -> Self {
        Contrast {
            id: claim.id.clone(),
            a: claim.a.clone(),
            b: claim.b.clone(),
            metric: claim.metric,
            compare: claim.compare,
            sizes: claim.train_per_class.clone(),
        }
    }

    /// Only at `size`.
    pub fn at(self, size: u64) -> Self {
        Contrast {
            sizes: Some(vec![size as usize]),
            ..self
        }
    }

    pub fn pairs(&self, variants: &[HeadVariant]) -> Vec<(HeadVariant, HeadVariant)> {
        variant_pairs(&self.a, &self.b, self.compare, variants)
    }
}

/// One pair of cells: the same size and seed.
#[derive(Debug, Clone, PartialEq)]
pub struct PairedCell {
    pub a_variant: String,
    pub b_variant: String,
    pub train_per_class: u64,
    pub seed: u64,
    pub a_cell: String,
    pub b_cell: String,
    /// `metric(a)`, `metric(b)` and their difference.
    pub a_value: f64,
    pub b_value: f64,
    pub diff: f64,
}

/// The variants `compare = "best"`/`"tuned"` kept at one size (chosen on val).
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub a: String,
    pub b: String,
    /// `tuned`: in how many leave-one-seed-out folds (of how many) both sides chose as on every
    /// seed.
    pub stable_folds: Option<(usize, usize)>,
}

/// One training size: one difference per seed (the mean over the variant pairs at that seed, so
/// every seed counts once however many pairs the contrast spans), and their mean and sample sd.
#[derive(Debug, Clone, PartialEq)]
pub struct SizeDiffs {
    pub train_per_class: u64,
    /// Per seed, in seed order.
    pub diffs: Vec<f64>,
    pub mean: f64,
    /// Sample sd (n - 1); NaN below two seeds.
    pub sd: f64,
    /// `compare = "best"`/`"tuned"`: what was kept.
    pub choice: Option<Choice>,
}

/// A contrast's pairs and differences.
#[derive(Debug, Clone)]
pub struct Paired {
    /// The pairs the contrast measures (after the choice), in grid order.
    pub compared: Vec<PairedCell>,
    /// The pairs its per-pair table lists: for `best`, `a` against every `b` (taken before the
    /// choice); otherwise `compared`.
    pub listed: Vec<PairedCell>,
    /// Per size, ascending.
    pub sizes: Vec<SizeDiffs>,
}

fn metric_expr(metric: Metric) -> Expr {
    match metric {
        Metric::Gap => col(Metric::TrainAcc.column()) - col(Metric::ValAcc.column()),
        other => col(other.column()).cast(DataType::Float64),
    }
}

/// Keeps, per training size, the `side` ("a" or "b") variant of best mean validation accuracy: the
/// selection split, whatever the contrast measures. Ties go to the grid's first variant.
fn keep_best_on_val(paired: LazyFrame, side: &str) -> LazyFrame {
    let (variant, rank, sel) = (
        format!("{side}_variant"),
        format!("{side}_rank"),
        format!("sel_{side}"),
    );
    // Rows in grid order before averaging: two variants with the same values (exact twins, such as
    // bias on and off without a ReLU) then get bit-identical means, and the tie goes to grid order,
    // not to the summation order a join happened to leave.
    let best = paired
        .clone()
        .sort(
            [rc::TRAIN_PER_CLASS, rc::SEED, "a_rank", "b_rank"],
            SortMultipleOptions::default(),
        )
        .group_by_stable([col(rc::TRAIN_PER_CLASS), col(&variant)])
        .agg([col(&sel).mean().alias("sel_mean"), col(&rank).first()])
        .sort(
            [rc::TRAIN_PER_CLASS, "sel_mean", rank.as_str()],
            SortMultipleOptions::default()
                .with_order_descending_multi([false, true, false])
                .with_maintain_order(true),
        )
        .group_by_stable([col(rc::TRAIN_PER_CLASS)])
        .agg([col(&variant).first()]);
    paired.join(
        best,
        [col(rc::TRAIN_PER_CLASS), col(&variant)],
        [col(rc::TRAIN_PER_CLASS), col(&variant)],
        JoinArgs::new(JoinType::Inner),
    )
}

/// Pairs the cells of `contrast` and applies its choice. A contrast with no variant pair, or no
/// paired cells, is an error naming it.
pub fn pair(results: &Results, contrast: &Contrast) -> Result<Paired, ReportError> {
    pair_if_any(results, contrast)?.ok_or_else(|| ReportError::Input {
        path: "runs".into(),
        message: format!(
            "contrast `{}`: no paired cells (same size and seed)",
            contrast.id
        ),
    })
}

/// Like [`pair`], but `None` when no cells pair (results merged from shards with cells still
/// missing, say): for what a report can show without, such as a runner-up's lead.
pub fn pair_if_any(results: &Results, contrast: &Contrast) -> Result<Option<Paired>, ReportError> {
    let variants = &results.variants;
    let pairs = contrast.pairs(variants);
    if pairs.is_empty() {
        return Err(ReportError::Input {
            path: "runs".into(),
            message: format!(
                "contrast `{}`: the results have no variant pair for it (a: {}, b: {})",
                contrast.id,
                contrast.a.describe(),
                contrast.b.describe()
            ),
        });
    }
    // Grid ranks of both sides: joins do not keep row order, so every order (and every tie
    // between equal means) is decided by these, which keeps the report bit-for-bit reproducible.
    let rank = |v: &HeadVariant| variants.iter().position(|x| x == v).unwrap_or(usize::MAX) as u64;
    let pair_frame = df!(
        "a_variant" => pairs.iter().map(|(a, _)| a.name()).collect::<Vec<_>>(),
        "b_variant" => pairs.iter().map(|(_, b)| b.name()).collect::<Vec<_>>(),
        "a_rank" => pairs.iter().map(|(a, _)| rank(a)).collect::<Vec<_>>(),
        "b_rank" => pairs.iter().map(|(_, b)| rank(b)).collect::<Vec<_>>(),
    )
    .map_err(ReportError::table("listing the variant pairs"))?;

    let mut sizes = results.sizes()?;
    if let Some(wanted) = &contrast.sizes {
        sizes.retain(|s| wanted.contains(&(*s as usize)));
    }
    let size_frame =
        df!(rc::TRAIN_PER_CLASS => sizes).map_err(ReportError::table("listing the sizes"))?;

    let runs = results
        .runs
        .clone()
        .lazy()
        .join(
            size_frame.lazy(),
            [col(rc::TRAIN_PER_CLASS)],
            [col(rc::TRAIN_PER_CLASS)],
            JoinArgs::new(JoinType::Inner),
        )
        .select([
            col(rc::VARIANT),
            col(rc::TRAIN_PER_CLASS),
            col(rc::SEED),
            col(rc::CELL_ID),
            metric_expr(contrast.metric).alias("m"),
            col(Metric::ValAcc.column()).alias("sel"),
        ]);
    let side = |prefix: &str| {
        runs.clone().select([
            col(rc::VARIANT).alias(format!("{prefix}_variant")),
            col(rc::TRAIN_PER_CLASS),
            col(rc::SEED),
            col(rc::CELL_ID).alias(format!("{prefix}_cell")),
            col("m").alias(format!("m_{prefix}")),
            col("sel").alias(format!("sel_{prefix}")),
        ])
    };
    let in_grid_order = |frame: LazyFrame| {
        frame.sort(
            [rc::TRAIN_PER_CLASS, rc::SEED, "a_rank", "b_rank"],
            SortMultipleOptions::default(),
        )
    };
    // In grid order from the start: the choices below average over these rows, and a fixed order
    // keeps those sums, and so the ties they break, the same on every run.
    let paired = in_grid_order(
        pair_frame
            .lazy()
            .join(
                side("a"),
                [col("a_variant")],
                [col("a_variant")],
                JoinArgs::new(JoinType::Inner),
            )
            .join(
                side("b"),
                [col("b_variant"), col(rc::TRAIN_PER_CLASS), col(rc::SEED)],
                [col("b_variant"), col(rc::TRAIN_PER_CLASS), col(rc::SEED)],
                JoinArgs::new(JoinType::Inner),
            )
            .with_column((col("m_a") - col("m_b")).alias("diff")),
    );
    // The per-pair table of `best` shows `a` against every `b` variant (e.g. linear against each
    // mlp), so it is taken before the choice; `tuned` shows only the chosen pair (its full cross
    // product would say nothing), `all` every pair anyway.
    let before_choice = if contrast.compare == Compare::Best {
        Some(
            paired
                .clone()
                .collect()
                .map_err(ReportError::table("pairing the cells"))?,
        )
    } else {
        None
    };
    // `best` keeps the strongest opponent (chosen on every seed's val). `tuned` chooses each side
    // on val too, but measures leave-one-seed-out: a seed's difference is that of the variants
    // chosen on the other seeds' val, so no seed's val luck picks the variant its test scores.
    let mut full_choice: Vec<(u64, Choice)> = Vec::new();
    let paired = match contrast.compare {
        Compare::All => in_grid_order(paired)
            .collect()
            .map_err(ReportError::table("pairing the cells"))?,
        Compare::Best => in_grid_order(keep_best_on_val(paired, "b"))
            .collect()
            .map_err(ReportError::table("pairing the cells"))?,
        Compare::Tuned => {
            let every = paired
                .collect()
                .map_err(ReportError::table("pairing the cells"))?;
            let (held_out, choices) = leave_one_seed_out(&every)?;
            full_choice = choices;
            pairs_frame(&held_out)?
        }
    };
    if paired.height() == 0 {
        return Ok(None);
    }
    let compared = paired_cells(&paired)?;
    let listed = match &before_choice {
        Some(frame) => paired_cells(frame)?,
        None => compared.clone(),
    };

    // One difference per (size, seed): the mean over the variant pairs at that seed.
    let per_seed = paired
        .clone()
        .lazy()
        .group_by_stable([col(rc::TRAIN_PER_CLASS), col(rc::SEED)])
        .agg([col("diff").mean()])
        .sort(
            [rc::TRAIN_PER_CLASS, rc::SEED],
            SortMultipleOptions::default(),
        );
    let seed_frame = per_seed
        .clone()
        .collect()
        .map_err(ReportError::table("pairing the seeds"))?;
    let seed_sizes = u64s(&seed_frame, rc::TRAIN_PER_CLASS)?;
    let seed_diffs = f64s(&seed_frame, "diff")?;
    let per_size = per_seed
        .group_by_stable([col(rc::TRAIN_PER_CLASS)])
        .agg([
            col("diff").mean().alias("diff_mean"),
            col("diff").std(1).alias("diff_sd"),
        ])
        .sort([rc::TRAIN_PER_CLASS], SortMultipleOptions::default())
        .collect()
        .map_err(ReportError::table("summarising the contrast per size"))?;
    let sizes = u64s(&per_size, rc::TRAIN_PER_CLASS)?;
    let means = f64s(&per_size, "diff_mean")?;
    let sds = f64s(&per_size, "diff_sd")?;
    let sizes = sizes
        .iter()
        .zip(means.iter().zip(&sds))
        .map(|(&size, (&mean, &sd))| SizeDiffs {
            train_per_class: size,
            diffs: seed_sizes
                .iter()
                .zip(&seed_diffs)
                .filter(|(s, _)| **s == size)
                .map(|(_, d)| *d)
                .collect(),
            mean,
            sd,
            choice: match contrast.compare {
                Compare::All => None,
                // After the choice every pair of the size is the chosen one.
                Compare::Best => compared
                    .iter()
                    .find(|p| p.train_per_class == size)
                    .map(|p| Choice {
                        a: p.a_variant.clone(),
                        b: p.b_variant.clone(),
                        stable_folds: None,
                    }),
                Compare::Tuned => full_choice
                    .iter()
                    .find(|(s, _)| *s == size)
                    .map(|(_, c)| c.clone()),
            },
        })
        .collect();
    Ok(Some(Paired {
        compared,
        listed,
        sizes,
    }))
}

/// The held-out pairs (one per size and seed) and the all-seeds choice per size.
type HeldOut = (Vec<PairedCell>, Vec<(u64, Choice)>);

/// Leave-one-seed-out selection over every `a` x `b` pair of `every` (a paired frame before any
/// choice): per size and held-out seed, each side's variant of best mean val over the other seeds
/// (ties to grid order), paired at the held-out seed. Also the choice on every seed, per size, with
/// the folds that agree with it. One seed alone: its choice is the all-seeds one.
fn leave_one_seed_out(every: &DataFrame) -> Result<HeldOut, ReportError> {
    use std::collections::BTreeMap;
    let cells = paired_cells(every)?;
    let ranks = |side: &str| u64s(every, &format!("{side}_rank"));
    let (a_rank, b_rank) = (ranks("a")?, ranks("b")?);
    let (sel_a, sel_b) = (f64s(every, "sel_a")?, f64s(every, "sel_b")?);
    // Per size, per side: variant -> (grid rank, val per seed).
    type Side = BTreeMap<String, (u64, BTreeMap<u64, f64>)>;
    let mut by_size: BTreeMap<u64, (Side, Side)> = BTreeMap::new();
    for (i, c) in cells.iter().enumerate() {
        let (a, b) = by_size.entry(c.train_per_class).or_default();
        a.entry(c.a_variant.clone())
            .or_insert_with(|| (a_rank[i], BTreeMap::new()))
            .1
            .insert(c.seed, sel_a[i]);
        b.entry(c.b_variant.clone())
            .or_insert_with(|| (b_rank[i], BTreeMap::new()))
            .1
            .insert(c.seed, sel_b[i]);
    }
    // The best mean val over the seeds other than `held_out`; ties to the lower grid rank.
    let choose = |side: &Side, held_out: Option<u64>| -> Option<String> {
        let mut best: Option<(f64, u64, &String)> = None;
        for (name, (rank, vals)) in side {
            let kept: Vec<f64> = vals
                .iter()
                .filter(|(s, _)| Some(**s) != held_out)
                .map(|(_, v)| *v)
                .collect();
            if kept.is_empty() {
                continue;
            }
            let mean = kept.iter().sum::<f64>() / kept.len() as f64;
            let better = match best {
                None => true,
                Some((m, r, _)) => mean > m || (mean == m && *rank < r),
            };
            if better {
                best = Some((mean, *rank, name));
            }
        }
        best.map(|(_, _, name)| name.clone())
    };
    let mut held_out_pairs = Vec::new();
    let mut choices = Vec::new();
    for (size, (a_side, b_side)) in &by_size {
        let (Some(full_a), Some(full_b)) = (choose(a_side, None), choose(b_side, None)) else {
            continue;
        };
        let mut seeds: Vec<u64> = cells
            .iter()
            .filter(|c| c.train_per_class == *size)
            .map(|c| c.seed)
            .collect();
        seeds.sort_unstable();
        seeds.dedup();
        let mut stable = 0;
        for &seed in &seeds {
            let (a, b) = if seeds.len() < 2 {
                (Some(full_a.clone()), Some(full_b.clone()))
            } else {
                (choose(a_side, Some(seed)), choose(b_side, Some(seed)))
            };
            let (Some(a), Some(b)) = (a, b) else { continue };
            if a == full_a && b == full_b {
                stable += 1;
            }
            if let Some(pair) = cells.iter().find(|c| {
                c.train_per_class == *size && c.seed == seed && c.a_variant == a && c.b_variant == b
            }) {
                held_out_pairs.push(pair.clone());
            }
        }
        choices.push((
            *size,
            Choice {
                a: full_a,
                b: full_b,
                stable_folds: Some((stable, seeds.len())),
            },
        ));
    }
    Ok((held_out_pairs, choices))
}

/// The typed rows of a paired frame, in its order.
fn paired_cells(frame: &DataFrame) -> Result<Vec<PairedCell>, ReportError> {
    let a_variant = strings(frame, "a_variant")?;
    let b_variant = strings(frame, "b_variant")?;
    let sizes = u64s(frame, rc::TRAIN_PER_CLASS)?;
    let seeds = u64s(frame, rc::SEED)?;
    let a_cell = strings(frame, "a_cell")?;
    let b_cell = strings(frame, "b_cell")?;
    let diff = f64s(frame, "diff")?;
    let a_value = f64s(frame, "m_a")?;
    let b_value = f64s(frame, "m_b")?;
    Ok((0..frame.height())
        .map(|i| PairedCell {
            a_variant: a_variant[i].clone(),
            b_variant: b_variant[i].clone(),
            train_per_class: sizes[i],
            seed: seeds[i],
            a_cell: a_cell[i].clone(),
            b_cell: b_cell[i].clone(),
            a_value: a_value[i],
            b_value: b_value[i],
            diff: diff[i],
        })
        .collect())
}

/// The pairs as a frame again (for the per-pair table and the exactness joins), in their order.
pub(crate) fn pairs_frame(pairs: &[PairedCell]) -> Result<DataFrame, ReportError> {
    df!(
        "a_variant" => pairs.iter().map(|p| p.a_variant.as_str()).collect::<Vec<_>>(),
        "b_variant" => pairs.iter().map(|p| p.b_variant.as_str()).collect::<Vec<_>>(),
        rc::TRAIN_PER_CLASS => pairs.iter().map(|p| p.train_per_class).collect::<Vec<_>>(),
        rc::SEED => pairs.iter().map(|p| p.seed).collect::<Vec<_>>(),
        "a_cell" => pairs.iter().map(|p| p.a_cell.as_str()).collect::<Vec<_>>(),
        "b_cell" => pairs.iter().map(|p| p.b_cell.as_str()).collect::<Vec<_>>(),
        "m_a" => pairs.iter().map(|p| p.a_value).collect::<Vec<_>>(),
        "m_b" => pairs.iter().map(|p| p.b_value).collect::<Vec<_>>(),
        "diff" => pairs.iter().map(|p| p.diff).collect::<Vec<_>>(),
    )
    .map_err(ReportError::table("listing the paired cells"))
}
