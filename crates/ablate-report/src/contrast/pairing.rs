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
    /// Names the contrast in messages and keys its bootstrap stream.
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
    /// `metric(a) - metric(b)`.
    pub diff: f64,
}

/// The variants `compare = "best"`/`"tuned"` kept at one size (chosen on val).
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub a: String,
    pub b: String,
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
    let mut paired = in_grid_order(
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
    // `best` keeps the strongest opponent, `tuned` the chosen variant of each side; both choose on val.
    match contrast.compare {
        Compare::All => {}
        Compare::Best => paired = keep_best_on_val(paired, "b"),
        Compare::Tuned => paired = keep_best_on_val(keep_best_on_val(paired, "a"), "b"),
    }
    let paired = in_grid_order(paired)
        .collect()
        .map_err(ReportError::table("pairing the cells"))?;
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
            // The first pair of a size in grid order: after a choice every pair of the size is the
            // chosen one.
            choice: (contrast.compare != Compare::All)
                .then(|| compared.iter().find(|p| p.train_per_class == size))
                .flatten()
                .map(|p| Choice {
                    a: p.a_variant.clone(),
                    b: p.b_variant.clone(),
                }),
        })
        .collect();
    Ok(Some(Paired {
        compared,
        listed,
        sizes,
    }))
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
    Ok((0..frame.height())
        .map(|i| PairedCell {
            a_variant: a_variant[i].clone(),
            b_variant: b_variant[i].clone(),
            train_per_class: sizes[i],
            seed: seeds[i],
            a_cell: a_cell[i].clone(),
            b_cell: b_cell[i].clone(),
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
        "diff" => pairs.iter().map(|p| p.diff).collect::<Vec<_>>(),
    )
    .map_err(ReportError::table("listing the paired cells"))
}
