//! The per-variant summary: per variant and size, the spread of accuracy over seeds (polars, lazy).

use ablate_results::columns::runs as rc;
use ablate_spec::Metric;
use polars::prelude::*;

use crate::error::ReportError;
use crate::frame::{f64s, strings, u64s};
use crate::results::Results;
use crate::stats;

/// The column of a metric.
fn val(metric: Metric) -> Expr {
    col(metric.column())
}

/// One row of the per-variant summary.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantRow {
    pub variant: String,
    pub head: String,
    pub train_per_class: u64,
    pub val: stats::Interval,
    pub train: stats::Interval,
    /// Test accuracy; `None` without a test split.
    pub test: Option<stats::Interval>,
    /// Mean of `train_acc - val_acc`.
    pub gap: f64,
    pub params: u64,
    /// mlp heads: mean of BN's variance ratio (variance shift); `None` for the linear head.
    pub bn_var_ratio: Option<stats::Interval>,
}

/// Per variant and training size: cells, mean, sd and 95% t interval of val and train accuracy,
/// the mean generalization gap and the parameter count. Rows by size, then grid order.
pub fn variant_summary(results: &Results) -> Result<(DataFrame, Vec<VariantRow>), ReportError> {
    let frame = results
        .runs
        .clone()
        .lazy()
        .with_column((val(Metric::TrainAcc) - val(Metric::ValAcc)).alias("gap"))
        .group_by_stable([col(rc::TRAIN_PER_CLASS), col(rc::HEAD), col(rc::VARIANT)])
        .agg([
            len().alias("cells"),
            val(Metric::ValAcc).mean().alias("val_acc_mean"),
            val(Metric::ValAcc).std(1).alias("val_acc_sd"),
            val(Metric::TrainAcc).mean().alias("train_acc_mean"),
            val(Metric::TrainAcc).std(1).alias("train_acc_sd"),
            val(Metric::TestAcc).mean().alias("test_acc_mean"),
            val(Metric::TestAcc).std(1).alias("test_acc_sd"),
            col("gap").mean().alias("gap_mean"),
            val(Metric::Params).first().alias("params"),
            val(Metric::BnVarRatio).mean().alias("bn_var_ratio_mean"),
            val(Metric::BnVarRatio).std(1).alias("bn_var_ratio_sd"),
        ])
        .sort(
            [rc::TRAIN_PER_CLASS],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .collect()
        .map_err(ReportError::table("summarising the variants"))?;

    let variants = strings(&frame, rc::VARIANT)?;
    let heads = strings(&frame, rc::HEAD)?;
    let sizes = u64s(&frame, rc::TRAIN_PER_CLASS)?;
    let cells = u64s(&frame, "cells")?;
    let val_mean = f64s(&frame, "val_acc_mean")?;
    let val_sd = f64s(&frame, "val_acc_sd")?;
    let train_mean = f64s(&frame, "train_acc_mean")?;
    let train_sd = f64s(&frame, "train_acc_sd")?;
    let test_mean = f64s(&frame, "test_acc_mean")?;
    let test_sd = f64s(&frame, "test_acc_sd")?;
    let gap = f64s(&frame, "gap_mean")?;
    let params = u64s(&frame, "params")?;
    let ratio_mean = f64s(&frame, "bn_var_ratio_mean")?;
    let ratio_sd = f64s(&frame, "bn_var_ratio_sd")?;
    let interval = |n: u64, mean: f64, sd: f64| stats::Interval {
        n: n as usize,
        mean,
        sd,
        half: stats::half_width(n as usize, sd),
    };
    let rows: Vec<VariantRow> = (0..frame.height())
        .map(|i| VariantRow {
            variant: variants[i].clone(),
            head: heads[i].clone(),
            train_per_class: sizes[i],
            val: interval(cells[i], val_mean[i], val_sd[i]),
            train: interval(cells[i], train_mean[i], train_sd[i]),
            test: test_mean[i]
                .is_finite()
                .then(|| interval(cells[i], test_mean[i], test_sd[i])),
            gap: gap[i],
            params: params[i],
            bn_var_ratio: ratio_mean[i]
                .is_finite()
                .then(|| interval(cells[i], ratio_mean[i], ratio_sd[i])),
        })
        .collect();

    // The CSV twin of the Markdown table: the aggregation plus its interval ends.
    let mut with_ci = frame;
    let ends = |f: fn(&stats::Interval) -> f64, pick: fn(&VariantRow) -> &stats::Interval| {
        rows.iter().map(|r| f(pick(r))).collect::<Vec<f64>>()
    };
    for (name, values) in [
        ("val_acc_ci_lo", ends(stats::Interval::lo, |r| &r.val)),
        ("val_acc_ci_hi", ends(stats::Interval::hi, |r| &r.val)),
        ("train_acc_ci_lo", ends(stats::Interval::lo, |r| &r.train)),
        ("train_acc_ci_hi", ends(stats::Interval::hi, |r| &r.train)),
    ] {
        with_ci
            .with_column(Column::new(name.into(), values))
            .map_err(ReportError::table("adding the interval columns"))?;
    }
    let optional_ends =
        |f: fn(&stats::Interval) -> f64, pick: fn(&VariantRow) -> Option<&stats::Interval>| {
            rows.iter()
                .map(|r| pick(r).map(f))
                .collect::<Vec<Option<f64>>>()
        };
    for (name, values) in [
        (
            "test_acc_ci_lo",
            optional_ends(stats::Interval::lo, |r| r.test.as_ref()),
        ),
        (
            "test_acc_ci_hi",
            optional_ends(stats::Interval::hi, |r| r.test.as_ref()),
        ),
    ] {
        with_ci
            .with_column(Column::new(name.into(), values))
            .map_err(ReportError::table("adding the interval columns"))?;
    }
    Ok((with_ci, rows))
}
