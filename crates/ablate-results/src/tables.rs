//! The `runs` and `epochs` tables, rebuilt from the cell records.

use std::collections::BTreeMap;
use std::path::Path;

use ablate_spec::{Cell, Kind, Metric, Switch, Value};
use polars::prelude::*;

use crate::atomic::write_atomic;
use crate::columns::{epochs as ep, runs as rc};
use crate::error::ResultsError;
use crate::record::{CellRecord, EpochMetrics};

/// One row per cell (`runs`) and one row per cell and epoch (`epochs`).
pub struct Tables {
    pub runs: DataFrame,
    pub epochs: DataFrame,
}

/// A column of one value per row.
fn column<R, T>(name: &str, rows: &[R], f: impl Fn(&R) -> T) -> Column
where
    Series: NamedFrom<Vec<T>, [T]>,
{
    Column::new(name.into(), rows.iter().map(f).collect::<Vec<T>>())
}

/// The column of one head switch: empty where the head does not have it (or the grid leaves it to
/// `[train]`), typed by the switch's kind.
fn switch_column(switch: Switch, rows: &[&CellRecord]) -> Column {
    let value = |r: &&CellRecord| r.cell.head.set_value(switch);
    let name = switch.key();
    match switch.spec().kind {
        Kind::Flag => column(name, rows, |r| match value(r) {
            Some(Value::Flag(b)) => Some(b),
            _ => None,
        }),
        Kind::Number(_) => column(name, rows, |r| match value(r) {
            Some(Value::Number(x)) => Some(x),
            _ => None,
        }),
        Kind::Word(_) => column(name, rows, |r| match value(r) {
            Some(Value::Word(w)) => Some(w.to_string()),
            _ => None,
        }),
    }
}

/// Builds both tables from `records`, rows in the order of `cells` (the grid order), so the tables do
/// not depend on which cells finished first or in which run. Cells without a record are left out.
pub fn build_tables(
    cells: &[Cell],
    records: &BTreeMap<String, CellRecord>,
) -> PolarsResult<Tables> {
    let rows: Vec<&CellRecord> = cells.iter().filter_map(|c| records.get(&c.id())).collect();
    let metric = |m: Metric| m.column();

    let mut columns = vec![
        column(rc::CELL_ID, &rows, |r| r.cell_id.clone()),
        column(rc::HEAD, &rows, |r| r.cell.head.kind().to_string()),
        column(rc::VARIANT, &rows, |r| r.cell.head.name()),
    ];
    columns.extend(Switch::all().map(|s| switch_column(s, &rows)));
    columns.extend([
        column(rc::TRAIN_PER_CLASS, &rows, |r| {
            r.cell.train_per_class as u64
        }),
        column(rc::SEED, &rows, |r| r.cell.seed),
        column(metric(Metric::TrainAcc), &rows, |r| r.outcome.train_acc),
        column(metric(Metric::ValAcc), &rows, |r| r.outcome.val_acc),
        column(metric(Metric::TrainLoss), &rows, |r| r.outcome.train_loss),
        column(metric(Metric::ValLoss), &rows, |r| r.outcome.val_loss),
        column(metric(Metric::TestAcc), &rows, |r| r.outcome.test_acc),
        column(metric(Metric::TestLoss), &rows, |r| r.outcome.test_loss),
        column(metric(Metric::BnVarRatio), &rows, |r| {
            r.outcome.bn_var_ratio
        }),
        column(metric(Metric::Params), &rows, |r| r.outcome.params as u64),
        column(rc::STEPS, &rows, |r| r.outcome.steps as u64),
        column(rc::SECONDS, &rows, |r| r.outcome.seconds),
        column(rc::CONFIG_HASH, &rows, |r| r.provenance.config_hash.clone()),
        column(rc::FEATURES_SHA256, &rows, |r| {
            r.provenance.features_sha256.clone()
        }),
        column(rc::BACKBONE_SHA256, &rows, |r| {
            r.provenance.backbone_sha256.clone()
        }),
        column(rc::DATASET_SHA256, &rows, |r| {
            r.provenance.dataset_sha256.clone()
        }),
        column(rc::BACKEND, &rows, |r| r.provenance.backend.clone()),
        column(rc::ABLATE_VERSION, &rows, |r| {
            r.provenance.ablate_version.clone()
        }),
    ]);
    let runs = DataFrame::new_infer_height(columns)?;

    let epoch_rows: Vec<(&CellRecord, &EpochMetrics)> = rows
        .iter()
        .flat_map(|r| r.outcome.epochs.iter().map(move |e| (*r, e)))
        .collect();
    let epochs = DataFrame::new_infer_height(vec![
        column(ep::CELL_ID, &epoch_rows, |(r, _)| r.cell_id.clone()),
        column(ep::EPOCH, &epoch_rows, |(_, e)| e.epoch as u64),
        column(ep::TRAIN_LOSS, &epoch_rows, |(_, e)| e.train_loss),
        column(ep::VAL_LOSS, &epoch_rows, |(_, e)| e.val_loss),
        column(ep::VAL_ACC, &epoch_rows, |(_, e)| e.val_acc),
        column(ep::BIAS_GRAD_MAX, &epoch_rows, |(_, e)| e.bias_grad_max),
    ])?;
    Ok(Tables { runs, epochs })
}

impl Tables {
    /// Writes `runs.csv`, `runs.parquet`, `epochs.csv`, `epochs.parquet` into `folder`, each atomically.
    pub fn write(&mut self, folder: &Path) -> Result<(), ResultsError> {
        for (stem, df) in [("runs", &mut self.runs), ("epochs", &mut self.epochs)] {
            let csv_path = folder.join(format!("{stem}.csv"));
            let mut csv = Vec::new();
            CsvWriter::new(&mut csv)
                .finish(df)
                .map_err(|e| table_error(&csv_path, e))?;
            write_atomic(&csv_path, &csv)?;

            let parquet_path = folder.join(format!("{stem}.parquet"));
            let mut parquet = Vec::new();
            ParquetWriter::new(&mut parquet)
                // Small tables: no codec needed, and none has to be compiled in.
                .with_compression(ParquetCompression::Uncompressed)
                .finish(df)
                .map_err(|e| table_error(&parquet_path, e))?;
            write_atomic(&parquet_path, &parquet)?;
        }
        Ok(())
    }
}

fn table_error(path: &Path, e: PolarsError) -> ResultsError {
    ResultsError::Table {
        path: path.to_owned(),
        message: e.to_string(),
    }
}
