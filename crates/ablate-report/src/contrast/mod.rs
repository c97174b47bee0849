//! Paired contrasts `a - b` over seeds, and the claims judged on them: what is compared and how
//! cells pair ([`pairing`]: a [`Contrast`], its typed pairs and per-size differences), and the rule
//! that turns one size's differences into a verdict ([`judge`], pure). Claims, their strata, the
//! ties of "what to use" and the tuned heads' runner-up all measure through these two.

mod judge;
mod pairing;

use ablate_results::columns::{epochs as ec, runs as rc};
use ablate_spec::{Claim, Expect, Metric};
use polars::prelude::*;

use crate::error::ReportError;
use crate::frame::{f64s, u64s};
use crate::results::Results;
use crate::spread::Spread;
use crate::stats::{self, Interval, Verdict};

pub use judge::{
    DETECTABLE_TARGET, Degenerate, Evidence, Exactness, FEW_SEEDS, Rule, Sensitivity, judge,
};
pub use pairing::{Contrast, PairedCell, pair, pair_if_any};

/// The verdict of one claim at one training size.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimRow {
    pub train_per_class: u64,
    /// Paired differences `a - b`, one per seed (averaged over the variant pairs at that seed):
    /// their mean, their sd over seeds, and the 95% interval's half-width ([`Spread`]: over seeds
    /// and, for test accuracy, test images).
    pub diff: Interval,
    /// The same differences with the interval that judged them: simultaneous over the claim's
    /// sizes (Bonferroni, each at [`stats::family_level`]), so a claim judged at three sizes is
    /// wrong anywhere with at most 5% chance.
    pub adjusted: Interval,
    /// The mean metric of the `a` and `b` cells behind the differences (per seed, over the pairs
    /// compared; for `tuned`, the leave-one-seed-out choices): `a_mean - b_mean` is `diff.mean`.
    pub sides: (f64, f64),
    /// Seeds whose difference lies on the expected side, and seeds with no difference at all.
    pub agree: usize,
    pub ties: usize,
    /// `compare = "best"` or `"tuned"`: the `b` variant it was compared with (`tuned`: the choice
    /// on every seed's val; the differences themselves are leave-one-seed-out).
    pub opponent: Option<String>,
    /// `compare = "tuned"`: the `a` variant chosen on val.
    pub chosen: Option<String>,
    /// `compare = "tuned"`: in how many of the leave-one-seed-out folds the choice (both sides)
    /// was the same as on every seed.
    pub stable_folds: Option<(usize, usize)>,
    /// `identical` claims: the largest per-epoch |train-loss difference| and the largest |gradient|
    /// of the `a` side's pre-BN bias, over every pair and seed at this size.
    pub exactness: Option<Exactness>,
    /// Two-sided p-value of "no difference", the test the 95% interval inverts; NaN for
    /// `identical` claims.
    pub p_value: f64,
    /// Exact sign-flip permutation test over the seeds' differences; NaN for `identical` claims.
    pub p_flip: f64,
    /// `p_value` adjusted within the claim's family of sizes (Bonferroni, `min(1, k p)`), the test
    /// the adjusted interval inverts.
    pub p_adjusted: f64,
    /// `p_value` adjusted over every judged row of the report (Holm), set by the analysis.
    pub p_holm: Option<f64>,
    /// Test metrics with recorded predictions: the number of test images the intervals also
    /// cover; `None` when they cover training randomness only (t over seeds).
    pub test_images: Option<usize>,
    /// With test images: the 95% half-width of the test split's own part of the interval.
    pub image_half: Option<f64>,
    /// The smallest true difference this experiment would have detected (interval excluding 0)
    /// with 80% power at the claim's level; `None` for `identical` and unmeasured rows.
    pub detectable: Option<f64>,
    /// Accuracy rows whose `detectable` is above one accuracy point: the seeds that would bring it
    /// under, if the spread held; `None` below five seeds, or when the test split alone keeps it
    /// above.
    pub seeds_for_detectable: Option<usize>,
    /// Inconclusive rows with at least five seeds: seeds at which the adjusted interval would
    /// settle (exclude 0 or fit inside the margin), if the observed mean and spread held.
    pub seeds_needed: Option<usize>,
    /// Inconclusive rows whose test split alone is too noisy to settle them: the half-width of the
    /// image noise, which no number of seeds removes.
    pub test_limited: Option<f64>,
    /// The spread behind the intervals, and the level of `adjusted`: what reads the interval another
    /// way (the seed split's fresh-draw widening) starts from.
    pub spread: crate::spread::Spread,
    pub level: f64,
    /// The verdict at half and at twice the margin (directional, measured rows).
    pub sensitivity: Option<Sensitivity>,
    /// Why the row has no verdict ([`Verdict::Unmeasured`]).
    pub degenerate: Option<Degenerate>,
    pub verdict: Verdict,
}

/// One claim with its verdict per training size and its per-variant-pair details.
#[derive(Debug, Clone)]
pub struct ClaimResult {
    pub claim: Claim,
    pub rows: Vec<ClaimRow>,
    /// Per variant pair and size: `a_variant, b_variant, train_per_class, seeds, diff_mean, diff_sd,
    /// diff_ci_lo, diff_ci_hi, agree`.
    pub pairs: DataFrame,
}

impl ClaimResult {
    /// "supported at every size (by 9.37, 11.56, 8.57 pp)", "equivalent at 25, 100/class;
    /// contradicted: the opposite way at 1000/class (by 1.26 pp)": the sizes grouped by verdict
    /// and direction ([`crate::markdown::format::verdict_group`]), each group's effects once. Every
    /// row's own wording is in the verdict table and claims.csv.
    pub fn summary(&self) -> String {
        use crate::markdown::format::{verdict_group, verdict_group_detail};
        let mut parts: Vec<(String, Vec<&ClaimRow>)> = Vec::new();
        for row in &self.rows {
            let label = verdict_group(&self.claim, row);
            match parts.iter_mut().find(|(l, _)| *l == label) {
                Some((_, rows)) => rows.push(row),
                None => parts.push((label, vec![row])),
            }
        }
        parts
            .iter()
            .map(|(label, rows)| {
                let at = if parts.len() == 1 && self.rows.len() > 1 {
                    " at every size".to_string()
                } else if self.rows.len() > 1 {
                    let sizes: Vec<String> =
                        rows.iter().map(|r| r.train_per_class.to_string()).collect();
                    format!(" at {}/class", sizes.join(", "))
                } else {
                    String::new()
                };
                format!("{label}{at}{}", verdict_group_detail(&self.claim, rows))
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Measures and judges `claim` on `results`.
pub fn judge_claim(results: &Results, claim: &Claim) -> Result<ClaimResult, ReportError> {
    let paired = pair(results, &Contrast::of(claim))?;
    let rule = Rule::of(claim);
    let pairs = pair_table(&paired.listed, rule.sign())?;
    let exactness = if claim.expect == Expect::Identical {
        Some(exactness(results, &paired.compared, claim.loss_epochs)?)
    } else {
        None
    };
    // One family per claim: its sizes. The intervals that judge are simultaneous over them.
    let family = paired.sizes.len();
    let mut rows = Vec::with_capacity(family);
    for size in &paired.sizes {
        let at = size.train_per_class;
        let spread = size_spread(results, claim.metric, &paired.compared, size)?;
        let at_ceiling = claim.metric.is_accuracy()
            && paired
                .compared
                .iter()
                .filter(|p| p.train_per_class == at)
                .all(|p| p.a_value == 1.0 && p.b_value == 1.0);
        let evidence = Evidence {
            train_per_class: at,
            diffs: &size.diffs,
            spread: &spread,
            exactness: exactness
                .as_ref()
                .and_then(|by_size| by_size.iter().find(|(s, _)| *s == at).map(|(_, e)| *e)),
            at_ceiling,
            family,
        };
        let mut row = judge(&rule, &evidence);
        row.sides = side_means(&paired.compared, at);
        if let Some(choice) = &size.choice {
            row.opponent = Some(choice.b.clone());
            if claim.compare == ablate_spec::Compare::Tuned {
                row.chosen = Some(choice.a.clone());
                row.stable_folds = choice.stable_folds;
            }
        }
        rows.push(row);
    }
    Ok(ClaimResult {
        claim: claim.clone(),
        rows,
        pairs,
    })
}

/// Per variant pair and size: `a_variant, b_variant, train_per_class, seeds, diff_mean, diff_sd,
/// agree, diff_ci_lo, diff_ci_hi` (seeds agreeing with the claim's direction `sign`).
fn pair_table(listed: &[PairedCell], sign: f64) -> Result<DataFrame, ReportError> {
    let agree = when((col("diff") * lit(sign)).gt(lit(0.0)))
        .then(lit(1u32))
        .otherwise(lit(0u32))
        .sum()
        .alias("agree");
    let per_pair = pairing::pairs_frame(listed)?
        .lazy()
        .group_by_stable([col("a_variant"), col("b_variant"), col(rc::TRAIN_PER_CLASS)])
        .agg([
            len().alias("seeds"),
            col("diff").mean().alias("diff_mean"),
            col("diff").std(1).alias("diff_sd"),
            agree,
        ])
        .sort(
            [rc::TRAIN_PER_CLASS],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .collect()
        .map_err(ReportError::table("summarising the variant pairs"))?;
    with_interval_ends(per_pair, "seeds", "diff_mean", "diff_sd")
}

/// The mean of each side's metric at `size`: per seed over its pairs, then over seeds (as the
/// differences are averaged).
fn side_means(compared: &[PairedCell], size: u64) -> (f64, f64) {
    let mut by_seed: std::collections::BTreeMap<u64, (f64, f64, usize)> = Default::default();
    for p in compared.iter().filter(|p| p.train_per_class == size) {
        let e = by_seed.entry(p.seed).or_default();
        e.0 += p.a_value;
        e.1 += p.b_value;
        e.2 += 1;
    }
    let n = by_seed.len().max(1) as f64;
    let (a, b) = by_seed.values().fold((0.0, 0.0), |(a, b), (sa, sb, k)| {
        (a + sa / *k as f64, b + sb / *k as f64)
    });
    (a / n, b / n)
}

/// The spread of one size's differences: over seeds and test images where the metric is test
/// accuracy with recorded predictions, over seeds otherwise.
pub(crate) fn size_spread(
    results: &Results,
    metric: Metric,
    compared: &[PairedCell],
    size: &pairing::SizeDiffs,
) -> Result<Spread, ReportError> {
    Ok(
        match image_diffs(results, metric, compared, size.train_per_class)? {
            Some(d) => Spread::over_seeds_and_images(&d),
            None => Spread::over_seeds(&size.diffs),
        },
    )
}

/// Per seed at `size`: the per-image differences `correct_a - correct_b` on the test split, averaged
/// over the claim's variant pairs at that seed. `None` (the interval is then over seeds alone, as
/// the report says) when the metric is not test accuracy, when the folder recorded no predictions,
/// or when a paired cell has none (a folder merged from runs before predictions were recorded). A
/// pairs table that cannot be read is an error, never a silent fallback.
fn image_diffs(
    results: &Results,
    metric: Metric,
    compared: &[PairedCell],
    size: u64,
) -> Result<Option<Vec<Vec<f64>>>, ReportError> {
    let Some(test) = results.test.as_ref() else {
        return Ok(None);
    };
    if metric != Metric::TestAcc {
        return Ok(None);
    }
    // Seeds in ascending order, pairs of one seed summed then averaged.
    let mut by_seed: std::collections::BTreeMap<u64, (Vec<f64>, usize)> = Default::default();
    for pair in compared.iter().filter(|p| p.train_per_class == size) {
        let (Some(ca), Some(cb)) = (test.correct(&pair.a_cell), test.correct(&pair.b_cell)) else {
            return Ok(None);
        };
        let entry = by_seed
            .entry(pair.seed)
            .or_insert_with(|| (vec![0.0; ca.len()], 0));
        for ((sum, x), y) in entry.0.iter_mut().zip(&ca).zip(&cb) {
            *sum += x - y;
        }
        entry.1 += 1;
    }
    let diffs: Vec<Vec<f64>> = by_seed
        .into_values()
        .map(|(sum, n)| sum.into_iter().map(|x| x / n as f64).collect())
        .collect();
    Ok((!diffs.is_empty()).then_some(diffs))
}

/// Per size: the largest per-epoch |train-loss difference| between paired cells (over the claim's
/// `loss_epochs`, else every epoch) and the largest pre-BN bias gradient of the `a` cells over every
/// epoch, read from the epochs table.
fn exactness(
    results: &Results,
    compared: &[PairedCell],
    loss_epochs: Option<usize>,
) -> Result<Vec<(u64, Exactness)>, ReportError> {
    let epochs = results.epochs.clone().lazy();
    let side = |prefix: &str| {
        epochs.clone().select([
            col(ec::CELL_ID).alias(format!("{prefix}_cell")),
            col(ec::EPOCH),
            col(ec::TRAIN_LOSS).alias(format!("loss_{prefix}")),
            col(ec::BIAS_GRAD_MAX).alias(format!("grad_{prefix}")),
        ])
    };
    let gap = col("loss_a") - col("loss_b");
    let frame = pairing::pairs_frame(compared)?
        .lazy()
        .select([col(rc::TRAIN_PER_CLASS), col("a_cell"), col("b_cell")])
        .join(
            side("a"),
            [col("a_cell")],
            [col("a_cell")],
            JoinArgs::new(JoinType::Inner),
        )
        .join(
            side("b"),
            [col("b_cell"), col(ec::EPOCH)],
            [col("b_cell"), col(ec::EPOCH)],
            JoinArgs::new(JoinType::Inner),
        )
        .with_column(
            when(gap.clone().lt(lit(0.0)))
                .then(-gap.clone())
                .otherwise(gap)
                .alias("loss_gap"),
        )
        .group_by([col(rc::TRAIN_PER_CLASS)])
        .agg([
            match loss_epochs {
                Some(n) if n > 0 => col("loss_gap").filter(col(ec::EPOCH).lt_eq(lit(n as u64))),
                // Every epoch: judged, or (0) only shown.
                _ => col("loss_gap"),
            }
            .max()
            .alias("max_loss_gap"),
            col("grad_a").max().alias("max_bias_grad"),
        ])
        .sort([rc::TRAIN_PER_CLASS], SortMultipleOptions::default())
        .collect()
        .map_err(ReportError::table("comparing the paired training curves"))?;
    let sizes = u64s(&frame, rc::TRAIN_PER_CLASS)?;
    let loss = f64s(&frame, "max_loss_gap")?;
    let grad = f64s(&frame, "max_bias_grad")?;
    Ok((0..frame.height())
        .map(|i| {
            let gaps = Exactness {
                loss_gap: loss[i],
                bias_grad: grad[i],
            };
            (sizes[i], gaps)
        })
        .collect())
}

/// Adds `diff_ci_lo` / `diff_ci_hi` (95% t interval) to a frame of counts, means and sds.
pub(crate) fn with_interval_ends(
    mut frame: DataFrame,
    n: &str,
    mean: &str,
    sd: &str,
) -> Result<DataFrame, ReportError> {
    let ns = u64s(&frame, n)?;
    let means = f64s(&frame, mean)?;
    let sds = f64s(&frame, sd)?;
    let half: Vec<f64> = ns
        .iter()
        .zip(&sds)
        .map(|(n, sd)| stats::half_width(*n as usize, *sd))
        .collect();
    let lo: Vec<f64> = means.iter().zip(&half).map(|(m, h)| m - h).collect();
    let hi: Vec<f64> = means.iter().zip(&half).map(|(m, h)| m + h).collect();
    frame
        .with_column(Column::new("diff_ci_lo".into(), lo))
        .map_err(ReportError::table("adding the interval columns"))?;
    frame
        .with_column(Column::new("diff_ci_hi".into(), hi))
        .map_err(ReportError::table("adding the interval columns"))?;
    Ok(frame)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::testing::{self, Cell};
    use ablate_spec::{Compare, HeadKind, HeadVariant, Selector, Switch};

    /// Runs of four variants at one size and three seeds, with val and test accuracies chosen so that
    /// the variant best on val is not the one best on test.
    fn constructed() -> Results {
        let experiment = testing::experiment(
            r#"
name = "constructed"
[data]
kind = "features"
path = "f.safetensors"
[grid]
head = ["mlp", "linear"]
dropout = [0.0, 0.5]
weight_decay = { linear = [0.0, 0.1] }
train_per_class = [100]
seeds = [0, 1, 2]
"#,
        );
        testing::results(experiment, None, |v, _, seed| {
            // (val, test): val prefers linear wd0.1 and mlp drop0.5.
            let (val, test) = match (v.kind(), v.weight_decay() == Some(0.0), v.dropout() == 0.0) {
                (HeadKind::LINEAR, true, _) => (0.80, 0.90),
                (HeadKind::LINEAR, false, _) => (0.85, 0.84),
                (_, _, true) => (0.70, 0.80),
                _ => (0.75, 0.78),
            };
            let jitter = seed as f64 * 0.001;
            Cell::acc(1.0, val + jitter, test - jitter * 2.0)
        })
    }

    /// Two mlp variants that differ by exactly +0.5 pp on test at every seed, with per-image test
    /// predictions behind those accuracies on `images` test images (a right on the first 80.5%,
    /// b on the first 80%, labels all 0).
    fn with_predictions(images: usize) -> (Results, Claim) {
        let experiment = testing::experiment(
            r#"
name = "noise"
[data]
kind = "features"
path = "f.safetensors"
[grid]
head = ["mlp"]
dropout = [0.0, 0.5]
train_per_class = [100]
seeds = [0, 1, 2, 3, 4]
"#,
        );
        let share = |v: &HeadVariant| if v.dropout() == 0.0 { 0.805 } else { 0.8 };
        let mut results =
            testing::results(experiment, None, |v, _, _| Cell::acc(1.0, 0.8, share(v)));
        let mut by_cell = std::collections::HashMap::new();
        for c in results.experiment.cells() {
            let right = (share(&c.head) * images as f64).round() as usize;
            let predicted = (0..images).map(|i| u32::from(i >= right)).collect();
            by_cell.insert(c.id(), predicted);
        }
        results.test = Some(crate::results::TestPredictions {
            labels: vec![0; images],
            by_cell,
        });
        let claim = Claim::contrast(
            "N",
            "",
            Metric::TestAcc,
            Selector::default().number(Switch::Dropout, 0.0),
            Selector::default().number(Switch::Dropout, 0.5),
            Expect::Higher,
        );
        (results, claim)
    }

    /// Seeds that agree exactly give a t interval of zero width; the test split is still finite,
    /// and the interval over seeds and images says so, more loudly the smaller the split.
    #[test]
    fn test_set_noise_widens_the_interval_as_the_split_shrinks() {
        let (results, claim) = with_predictions(2000);
        let seeds_only = judge_claim(
            &Results {
                test: None,
                ..with_predictions(2000).0
            },
            &claim,
        )
        .unwrap();
        assert_eq!(seeds_only.rows[0].adjusted.half, 0.0);
        assert_eq!(seeds_only.rows[0].test_images, None);
        let large = judge_claim(&results, &claim).unwrap().rows[0].clone();
        let (small_results, _) = with_predictions(200);
        let small = judge_claim(&small_results, &claim).unwrap().rows[0].clone();
        assert_eq!(large.test_images, Some(2000));
        assert!((large.diff.mean - 0.005).abs() < 1e-9);
        assert!(large.adjusted.half > 0.001, "{}", large.adjusted.half);
        assert!(small.adjusted.half > 2.0 * large.adjusted.half);
        // On 200 images +0.5 pp is no longer distinguishable from 0.
        assert_eq!(small.verdict, Verdict::Inconclusive);
    }

    fn versus(compare: Compare, metric: Metric) -> ClaimResult {
        let claim = Claim {
            compare,
            ..Claim::contrast(
                "D",
                "",
                metric,
                Selector::head(HeadKind::LINEAR),
                Selector::head(HeadKind::MLP),
                Expect::Higher,
            )
        };
        judge_claim(&constructed(), &claim).unwrap()
    }

    #[test]
    fn tuned_chooses_each_side_on_val_and_measures_on_test() {
        let tuned = versus(Compare::Tuned, Metric::TestAcc);
        let row = &tuned.rows[0];
        assert_eq!(row.chosen.as_deref(), Some("linear-last1-wd0.1"));
        assert_eq!(
            row.opponent.as_deref(),
            Some("mlp-bias1-relu1-drop0.5-last1")
        );
        // Test: 0.84 - 0.78 at every seed (the jitter cancels).
        assert!((row.diff.mean - 0.06).abs() < 1e-12, "{}", row.diff.mean);
        assert_eq!(tuned.pairs.height(), 1, "only the chosen pair is listed");

        // `best` chooses the opponent on val too, whatever it measures, and lists every pair.
        let best = versus(Compare::Best, Metric::TestAcc);
        assert_eq!(
            best.rows[0].opponent.as_deref(),
            Some("mlp-bias1-relu1-drop0.5-last1")
        );
        assert_eq!(best.rows[0].chosen, None);
        assert_eq!(best.pairs.height(), 4);
        // Both linear variants against mlp drop0.5: (0.90 + 0.84) / 2 - 0.78.
        assert!((best.rows[0].diff.mean - 0.09).abs() < 1e-9);
    }

    /// A `runs` table whose variant the grid does not make is refused, naming it.
    #[test]
    fn variants_come_from_the_grid() {
        let results = constructed();
        assert_eq!(
            results.names(),
            [
                "mlp-bias1-relu1-drop0-last1",
                "mlp-bias1-relu1-drop0.5-last1",
                "linear-last1-wd0",
                "linear-last1-wd0.1"
            ]
        );
        let v = results.variant("linear-last1-wd0.1").unwrap();
        assert_eq!(v.weight_decay(), Some(0.1));
        assert!(!v.is_on(Switch::Relu));
        let mut runs = results.runs.clone();
        runs.with_column(Column::new(
            rc::VARIANT.into(),
            vec!["mlp-bias1-relu1-drop0.3-last1"; runs.height()],
        ))
        .unwrap();
        let err = Results::new(
            results.manifest.clone(),
            results.experiment.clone(),
            runs,
            results.epochs.clone(),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("mlp-bias1-relu1-drop0.3-last1"), "{err}");
    }

    /// Per-seed differences with mean `mean` and sample sd `sd` exactly (5 seeds).
    pub(crate) fn diffs(mean: f64, sd: f64) -> [f64; 5] {
        let z = [-1.2, 0.4, 1.1, -0.6, 0.3];
        let z_sd = (z.iter().map(|v: &f64| v * v).sum::<f64>() / 4.0).sqrt();
        z.map(|v| mean + sd * v / z_sd)
    }

    /// A claim `relu on - relu off` on val at three sizes, whose per-seed differences at size 30
    /// come from `at30` and are 0 ± 0.2 pp elsewhere.
    pub(crate) fn relu_claim(at30: [f64; 5], expect: Expect) -> ClaimResult {
        let experiment = testing::experiment(
            r#"
name = "family"
claims = []
[data]
kind = "features"
path = "f.safetensors"
[grid]
head = ["mlp"]
relu = [true, false]
train_per_class = [10, 20, 30]
seeds = [0, 1, 2, 3, 4]
"#,
        );
        let small = diffs(0.0, 0.002);
        let results = testing::results(experiment, None, |v, size, seed| {
            let d = if size == 30 { at30 } else { small }[seed as usize];
            let val = 0.7 + if v.is_on(Switch::Relu) { d } else { 0.0 };
            Cell::acc(1.0, val, val)
        });
        let claim = Claim::contrast(
            "R",
            "",
            Metric::ValAcc,
            Selector::default().flag(Switch::Relu, true),
            Selector::default().flag(Switch::Relu, false),
            expect,
        );
        judge_claim(&results, &claim).unwrap()
    }

    /// One family per claim: a row whose plain 95% interval excludes 0 but whose interval over the
    /// claim's three sizes does not is inconclusive, and its seeds hint asks for more seeds than ran.
    #[test]
    fn the_family_adjustment_can_undo_a_verdict_and_the_hint_asks_for_more_seeds() {
        let judged = relu_claim(diffs(0.008, 0.005), Expect::Higher);
        let row = judged
            .rows
            .iter()
            .find(|r| r.train_per_class == 30)
            .unwrap();
        assert!(row.diff.lo() > 0.0, "unadjusted {:?}", row.diff);
        assert!(
            row.adjusted.lo() < 0.0 && row.adjusted.hi() > 0.01,
            "{:?}",
            row.adjusted
        );
        assert_eq!(row.verdict, Verdict::Inconclusive);
        assert!((row.p_adjusted - (3.0 * row.p_value).min(1.0)).abs() < 1e-12);
        let needed = row
            .seeds_needed
            .expect("an inconclusive row says what would settle it");
        assert!(needed > row.diff.n, "{needed} seeds, {} ran", row.diff.n);
        // The other sizes: 0 ± 0.2 pp, inside the margin.
        assert!(
            judged
                .rows
                .iter()
                .filter(|r| r.train_per_class != 30)
                .all(|r| r.verdict == Verdict::Equivalent && r.seeds_needed.is_none())
        );
    }
}
