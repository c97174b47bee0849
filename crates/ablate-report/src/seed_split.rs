//! What the seed spread is made of. A seed draws a cell's training subset (from the pool) and its
//! initialisation, batch order and dropout masks. Cells with one part held at seed 0's draw
//! (`held_fixed`) let the report split the seed variance of a claim's paired difference into the
//! subset's share and the rest's, and say how much wider the interval would be for training sets
//! drawn afresh from the population instead of from the pool the seeds share.

use std::collections::HashMap;

use ablate_results::columns::runs as rc;
use ablate_spec::{Compare, Expect, HeadVariant, Metric, Switch, Value};
use polars::prelude::DataFrame;

use crate::error::ReportError;
use crate::frame::{f64s, strings, u64s};
use crate::results::Results;

/// One claim's split, per training size.
#[derive(Debug, Clone)]
pub struct SeedSplit {
    pub claim: String,
    pub rows: Vec<SplitRow>,
}

#[derive(Debug, Clone)]
pub struct SplitRow {
    pub train_per_class: u64,
    /// Seeds with the pair in all three blocks.
    pub seeds: usize,
    /// The paired difference's sd over seeds with everything varying (the claim's own cells), with
    /// the subset held (init, order and dropout vary) and with those held (the subset varies).
    pub sd_all: f64,
    pub sd_subset_held: f64,
    pub sd_init_held: f64,
    /// The subset's share of the two parts' variance: `var(init held) / (sum of both)`.
    pub subset_share: f64,
    /// The share of the pool a seed's subset takes (`n / pool`): the finite-population fraction.
    pub pool_fraction: f64,
    /// How much wider the seed part of the interval would be for a fresh training set: the subset's
    /// variance drawn without replacement from the pool is `(1 - f)` times a fresh draw's (for a
    /// mean-like statistic). With the subset's part of `var_all` taken as `subset_share * var_all`
    /// (the share from the held blocks, so the three blocks' sampling noise cannot make the part
    /// exceed the whole), the fresh variance is `var_all * (1 + subset_share * f / (1 - f))`; this
    /// is its square root over `var_all`'s. `None` where the subsets are the whole pool (f = 1).
    pub widen: Option<f64>,
}

/// The split for every claim that compares one `a` variant with one `b` variant (`compare = "all"`
/// on a val or test accuracy) and has both in the held blocks. Empty without held cells.
pub fn seed_splits(results: &Results) -> Result<Vec<SeedSplit>, ReportError> {
    let Some(held) = &results.held else {
        return Ok(Vec::new());
    };
    let Some(pool) = results
        .manifest
        .data
        .as_ref()
        .map(|d| d.smallest_class_rows)
    else {
        return Ok(Vec::new());
    };
    let mut splits = Vec::new();
    for claim in results.experiment.claims.iter() {
        // The split is about the intervals of what a head generalises to: not the training fit.
        if claim.compare != Compare::All
            || claim.expect == Expect::Identical
            || !claim.metric.is_accuracy()
            || claim.metric == Metric::TrainAcc
        {
            continue;
        }
        let one = |sel: &ablate_spec::Selector| -> Option<HeadVariant> {
            let mut matched = results.variants.iter().filter(|v| sel.matches(v));
            let first = *matched.next()?;
            matched.next().is_none().then_some(first)
        };
        let (Some(a), Some(b)) = (one(&claim.a), one(&claim.b)) else {
            continue;
        };
        let column = claim.metric.column();
        let all = metric_by_cell(&results.runs, column)?;
        let held_metric = metric_by_cell(held, column)?;
        let name = |v: HeadVariant, part: &'static str| {
            v.with(Switch::HeldFixed, Value::Word(part)).name()
        };
        let blocks = [
            (&all, a.name(), b.name()),
            (&held_metric, name(a, "subset"), name(b, "subset")),
            (&held_metric, name(a, "init_order"), name(b, "init_order")),
        ];
        let mut rows = Vec::new();
        for &size in &results.sizes()? {
            // Seeds with the pair in every block, so the three sds are over the same seeds.
            let diffs: Vec<HashMap<u64, f64>> = blocks
                .iter()
                .map(|(table, a, b)| paired(table, a, b, size))
                .collect();
            let mut seeds: Vec<u64> = diffs[0]
                .keys()
                .copied()
                .filter(|s| diffs.iter().all(|d| d.contains_key(s)))
                .collect();
            seeds.sort_unstable();
            if seeds.len() < 3 {
                continue;
            }
            let sd = |d: &HashMap<u64, f64>| {
                let xs: Vec<f64> = seeds.iter().map(|s| d[s]).collect();
                sample_sd(&xs)
            };
            let (sd_all, sd_subset_held, sd_init_held) =
                (sd(&diffs[0]), sd(&diffs[1]), sd(&diffs[2]));
            let (var_rest, var_subset) = (sd_subset_held.powi(2), sd_init_held.powi(2));
            let subset_share = var_subset / (var_subset + var_rest);
            let f = size as f64 / pool as f64;
            let widen = fresh_widening(subset_share, f);
            rows.push(SplitRow {
                train_per_class: size,
                seeds: seeds.len(),
                sd_all,
                sd_subset_held,
                sd_init_held,
                subset_share,
                pool_fraction: f,
                widen,
            });
        }
        if !rows.is_empty() {
            splits.push(SeedSplit {
                claim: claim.id.clone(),
                rows,
            });
        }
    }
    Ok(splits)
}

/// `(variant, size, seed) -> metric` of a runs frame.
type ByCell = HashMap<(String, u64, u64), f64>;

fn metric_by_cell(runs: &DataFrame, column: &str) -> Result<ByCell, ReportError> {
    let variants = strings(runs, rc::VARIANT)?;
    let sizes = u64s(runs, rc::TRAIN_PER_CLASS)?;
    let seeds = u64s(runs, rc::SEED)?;
    let values = f64s(runs, column)?;
    Ok(variants
        .into_iter()
        .zip(sizes)
        .zip(seeds)
        .zip(values)
        .map(|(((v, n), s), x)| ((v, n, s), x))
        .collect())
}

/// `a - b` per seed at `size`, where both have a finite value.
fn paired(table: &ByCell, a: &str, b: &str, size: u64) -> HashMap<u64, f64> {
    table
        .iter()
        .filter(|((v, n, _), x)| v == a && *n == size && x.is_finite())
        .filter_map(|((_, _, seed), xa)| {
            let xb = table.get(&(b.to_string(), size, *seed))?;
            xb.is_finite().then_some((*seed, xa - xb))
        })
        .collect()
}

/// See [`SplitRow::widen`].
fn fresh_widening(subset_share: f64, f: f64) -> Option<f64> {
    (f < 1.0 && subset_share.is_finite()).then(|| (1.0 + subset_share * f / (1.0 - f)).sqrt())
}

fn sample_sd(xs: &[f64]) -> f64 {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fresh_draw_adds_the_subsets_missing_variance() {
        // Half the seed variance is the subset's, and half of that is missing at f = 0.5: the
        // fresh variance is 1.5 times the pool's.
        let widen = fresh_widening(0.5, 0.5).unwrap();
        assert!((widen - 1.5f64.sqrt()).abs() < 1e-12);
        // A small share of the pool leaves almost nothing out; the whole pool leaves no estimate;
        // no subset part, no widening.
        assert!(fresh_widening(0.5, 0.0125).unwrap() < 1.004);
        assert_eq!(fresh_widening(0.5, 1.0), None);
        assert_eq!(fresh_widening(0.0, 0.5), Some(1.0));
        assert!((sample_sd(&[1.0, 2.0, 3.0]) - 1.0).abs() < 1e-12);
    }
}
