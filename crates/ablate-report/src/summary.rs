//! Reading the results tables and the per-variant summary (polars, lazy).

use std::path::Path;

use polars::prelude::*;

use crate::error::ReportError;
use crate::stats;

/// The runs and epochs tables of one results folder, with the run's `variant` order kept.
pub struct Results {
    pub runs: DataFrame,
    pub epochs: DataFrame,
}

impl Results {
    /// Reads `runs.parquet` / `epochs.parquet` (or the CSV twins when the Parquet files are absent).
    pub fn load(folder: &Path) -> Result<Self, ReportError> {
        let mut runs = read_table(folder, "runs")?;
        // Columns that older results lack: empty, so that every query can name them.
        for name in ["test_acc", "test_loss", "bn_var_ratio"] {
            if runs.column(name).is_err() {
                runs.with_column(Column::full_null(
                    name.into(),
                    runs.height(),
                    &DataType::Float64,
                ))
                .map_err(ReportError::table("adding an empty column"))?;
            }
        }
        Ok(Self {
            runs,
            epochs: read_table(folder, "epochs")?,
        })
    }

    /// Whether every cell was evaluated on a test split (features with `test_x`/`test_y`).
    pub fn has_test(&self) -> bool {
        self.runs
            .column("test_acc")
            .is_ok_and(|c| c.null_count() == 0)
    }

    /// Head variants in the order they first appear (the grid order the runner wrote).
    pub fn variants(&self) -> Result<Vec<String>, ReportError> {
        let unique = self
            .runs
            .clone()
            .lazy()
            .select([col("variant")])
            .unique_stable(None, UniqueKeepStrategy::First)
            .collect()
            .map_err(ReportError::table("listing the variants"))?;
        strings(&unique, "variant")
    }

    /// The training sizes, ascending.
    pub fn sizes(&self) -> Result<Vec<u64>, ReportError> {
        let unique = self
            .runs
            .clone()
            .lazy()
            .select([col("train_per_class")])
            .unique(None, UniqueKeepStrategy::First)
            .sort(["train_per_class"], SortMultipleOptions::default())
            .collect()
            .map_err(ReportError::table("listing the training sizes"))?;
        u64s(&unique, "train_per_class")
    }
}

fn read_table(folder: &Path, name: &str) -> Result<DataFrame, ReportError> {
    let parquet = folder.join(format!("{name}.parquet"));
    let csv = folder.join(format!("{name}.csv"));
    let (path, frame) = if parquet.exists() {
        let file = std::fs::File::open(&parquet).map_err(ReportError::io(&parquet))?;
        (parquet.clone(), ParquetReader::new(file).finish())
    } else if csv.exists() {
        let frame = CsvReadOptions::default()
            .with_has_header(true)
            .try_into_reader_with_file_path(Some(csv.clone()))
            .and_then(|r| r.finish());
        (csv.clone(), frame)
    } else {
        return Err(ReportError::Input {
            path: parquet,
            message: format!("missing (and no {name}.csv either); run `ablate run` first"),
        });
    };
    let frame = frame.map_err(|e| ReportError::Input {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let needed: &[&str] = if name == "runs" {
        &[
            "cell_id",
            "head",
            "variant",
            "train_per_class",
            "seed",
            "train_acc",
            "val_acc",
            "train_loss",
            "val_loss",
            "params",
            "seconds",
        ]
    } else {
        &[
            "cell_id",
            "epoch",
            "train_loss",
            "val_loss",
            "val_acc",
            "bias_grad_max",
        ]
    };
    for column in needed {
        if frame.column(column).is_err() {
            return Err(ReportError::Input {
                path,
                message: format!("has no column `{column}`"),
            });
        }
    }
    if frame.height() == 0 {
        return Err(ReportError::Input {
            path,
            message: "has no rows".into(),
        });
    }
    Ok(frame)
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
        .with_column((col("train_acc") - col("val_acc")).alias("gap"))
        .group_by_stable([col("train_per_class"), col("head"), col("variant")])
        .agg([
            len().alias("cells"),
            col("val_acc").mean().alias("val_acc_mean"),
            col("val_acc").std(1).alias("val_acc_sd"),
            col("train_acc").mean().alias("train_acc_mean"),
            col("train_acc").std(1).alias("train_acc_sd"),
            col("test_acc").mean().alias("test_acc_mean"),
            col("test_acc").std(1).alias("test_acc_sd"),
            col("gap").mean().alias("gap_mean"),
            col("params").first().alias("params"),
            col("bn_var_ratio").mean().alias("bn_var_ratio_mean"),
            col("bn_var_ratio").std(1).alias("bn_var_ratio_sd"),
        ])
        .sort(
            ["train_per_class"],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .collect()
        .map_err(ReportError::table("summarising the variants"))?;

    let variants = strings(&frame, "variant")?;
    let heads = strings(&frame, "head")?;
    let sizes = u64s(&frame, "train_per_class")?;
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

pub(crate) fn strings(frame: &DataFrame, name: &str) -> Result<Vec<String>, ReportError> {
    let column = frame
        .column(name)
        .and_then(|c| c.cast(&DataType::String))
        .map_err(ReportError::table("reading a text column"))?;
    let ca = column
        .str()
        .map_err(ReportError::table("reading a text column"))?;
    Ok(ca
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect())
}

pub(crate) fn f64s(frame: &DataFrame, name: &str) -> Result<Vec<f64>, ReportError> {
    let column = frame
        .column(name)
        .and_then(|c| c.cast(&DataType::Float64))
        .map_err(ReportError::table("reading a number column"))?;
    let ca = column
        .f64()
        .map_err(ReportError::table("reading a number column"))?;
    Ok(ca.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
}

pub(crate) fn u64s(frame: &DataFrame, name: &str) -> Result<Vec<u64>, ReportError> {
    let column = frame
        .column(name)
        .and_then(|c| c.cast(&DataType::UInt64))
        .map_err(ReportError::table("reading a count column"))?;
    let ca = column
        .u64()
        .map_err(ReportError::table("reading a count column"))?;
    Ok(ca.iter().map(|v| v.unwrap_or(0)).collect())
}
