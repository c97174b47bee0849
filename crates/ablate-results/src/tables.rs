//! The `runs` and `epochs` tables, rebuilt from the cell records.

use std::collections::BTreeMap;
use std::path::Path;

use ablate_spec::{Cell, Kind, Metric, Switch, Value};
use polars::prelude::*;

use crate::atomic::write_atomic;
use crate::columns::{epochs as ep, predictions as pc, runs as rc};
use crate::error::ResultsError;
use crate::layout::{Layout, TABLE_STEMS};
use ablate_record::EpochMetrics;

use crate::record::CellRecord;

/// One row per cell (`runs`), one row per cell and epoch (`epochs`), and one row per cell with its
/// test predictions (`predictions`, when the cells have a test split).
pub struct Tables {
    pub runs: DataFrame,
    pub epochs: DataFrame,
    pub predictions: Option<DataFrame>,
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
        column(metric(Metric::BnRefitGain), &rows, |r| {
            r.outcome
                .test_acc_bn_refit
                .zip(r.outcome.test_acc)
                .map(|(refit, trained)| refit - trained)
        }),
        column(metric(Metric::Params), &rows, |r| r.outcome.params as u64),
        column(rc::STEPS, &rows, |r| r.outcome.steps as u64),
        column(rc::FIT_EVALUATIONS, &rows, |r| {
            r.outcome.fit.as_ref().map(|f| f.evaluations as u64)
        }),
        column(rc::FIT_GRAD_MAX, &rows, |r| {
            r.outcome.fit.as_ref().map(|f| f.grad_max)
        }),
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
    let predictions = predictions_table(&rows)?;
    Ok(Tables {
        runs,
        epochs,
        predictions,
    })
}

/// `cell_id` and `test_predicted` (the predicted class of every test row, in the split's order),
/// for the cells that recorded them; `None` when none did.
fn predictions_table(rows: &[&CellRecord]) -> PolarsResult<Option<DataFrame>> {
    let with: Vec<(&str, &[u16])> = rows
        .iter()
        .filter_map(|r| {
            r.outcome
                .test_predictions
                .as_deref()
                .map(|p| (r.cell_id.as_str(), p))
        })
        .collect();
    if with.is_empty() {
        return Ok(None);
    }
    let ids: Vec<&str> = with.iter().map(|(id, _)| *id).collect();
    let lists: Vec<Series> = with
        .iter()
        .map(|(_, p)| {
            Series::new(
                "".into(),
                p.iter().map(|&c| u32::from(c)).collect::<Vec<u32>>(),
            )
        })
        .collect();
    let df = DataFrame::new_infer_height(vec![
        Column::new(pc::CELL_ID.into(), ids),
        Column::new(pc::TEST_PREDICTED.into(), lists),
    ])?;
    Ok(Some(df))
}

impl Tables {
    /// Writes `runs.csv`, `runs.parquet`, `epochs.csv`, `epochs.parquet` and `predictions.parquet`
    /// (Parquet only: a list per cell has no CSV form) into the folder, each atomically.
    pub fn write(&mut self, layout: &Layout) -> Result<(), ResultsError> {
        if let Some(df) = &mut self.predictions {
            // ~2000 small integers per cell: zstd makes the committed file ~20x smaller.
            let compression = ParquetCompression::Zstd(None);
            write_parquet(&layout.predictions(), df, compression)?;
        }
        let [runs, epochs] = TABLE_STEMS;
        for (stem, df) in [(runs, &mut self.runs), (epochs, &mut self.epochs)] {
            let csv_path = layout.table_csv(stem);
            let mut csv = Vec::new();
            CsvWriter::new(&mut csv)
                .finish(df)
                .map_err(|e| table_error(&csv_path, e))?;
            write_atomic(&csv_path, &csv)?;

            // Small tables: no codec needed.
            let compression = ParquetCompression::Uncompressed;
            write_parquet(&layout.table_parquet(stem), df, compression)?;
        }
        Ok(())
    }
}

fn write_parquet(
    path: &Path,
    df: &mut DataFrame,
    compression: ParquetCompression,
) -> Result<(), ResultsError> {
    let mut parquet = Vec::new();
    ParquetWriter::new(&mut parquet)
        .with_compression(compression)
        .finish(df)
        .map_err(|e| table_error(path, e))?;
    write_atomic(path, &parquet)
}

fn table_error(path: &Path, e: PolarsError) -> ResultsError {
    ResultsError::Table {
        path: path.to_owned(),
        message: e.to_string(),
    }
}
