//! The `runs` and `epochs` tables, rebuilt from the cell records.

use std::collections::BTreeMap;
use std::path::Path;

use ablate_spec::{Cell, HeadVariant};
use polars::prelude::*;

use crate::atomic::write_atomic;
use crate::error::ResultsError;
use crate::record::CellRecord;

/// One row per cell (`runs`) and one row per cell and epoch (`epochs`).
pub struct Tables {
    pub runs: DataFrame,
    pub epochs: DataFrame,
}

/// Builds both tables from `records`, rows in the order of `cells` (the grid order), so the tables do
/// not depend on which cells finished first or in which run. Cells without a record are left out.
pub fn build_tables(
    cells: &[Cell],
    records: &BTreeMap<String, CellRecord>,
) -> PolarsResult<Tables> {
    let rows: Vec<&CellRecord> = cells.iter().filter_map(|c| records.get(&c.id())).collect();

    let mlp = |r: &CellRecord| match r.cell.head {
        HeadVariant::Mlp {
            bias_before_bn,
            relu,
            dropout,
            last_bias,
            ..
        } => (Some(bias_before_bn), Some(relu), Some(dropout), last_bias),
        HeadVariant::Linear { last_bias, .. } => (None, None, None, last_bias),
    };
    let position = |r: &CellRecord| match r.cell.head {
        HeadVariant::Mlp {
            dropout_position, ..
        } => Some(
            if dropout_position.is_after_bn() {
                "after_bn"
            } else {
                "before_bn"
            }
            .to_string(),
        ),
        HeadVariant::Linear { .. } => None,
    };
    let col_str = |name: &str, f: &dyn Fn(&CellRecord) -> String| {
        Column::new(
            name.into(),
            rows.iter().map(|r| f(r)).collect::<Vec<String>>(),
        )
    };
    let col_f64 = |name: &str, f: &dyn Fn(&CellRecord) -> f64| {
        Column::new(name.into(), rows.iter().map(|r| f(r)).collect::<Vec<f64>>())
    };
    let runs = DataFrame::new_infer_height(vec![
        col_str("cell_id", &|r| r.cell_id.clone()),
        col_str("head", &|r| match r.cell.head {
            HeadVariant::Mlp { .. } => "mlp".into(),
            HeadVariant::Linear { .. } => "linear".into(),
        }),
        col_str("variant", &|r| r.cell.head.name()),
        Column::new(
            "bias_before_bn".into(),
            rows.iter().map(|r| mlp(r).0).collect::<Vec<Option<bool>>>(),
        ),
        Column::new(
            "relu".into(),
            rows.iter().map(|r| mlp(r).1).collect::<Vec<Option<bool>>>(),
        ),
        Column::new(
            "dropout".into(),
            rows.iter().map(|r| mlp(r).2).collect::<Vec<Option<f64>>>(),
        ),
        Column::new(
            "last_bias".into(),
            rows.iter().map(|r| mlp(r).3).collect::<Vec<bool>>(),
        ),
        col_f64("input_dropout", &|r| r.cell.head.input_dropout()),
        Column::new(
            "weight_decay".into(),
            rows.iter()
                .map(|r| r.cell.head.weight_decay())
                .collect::<Vec<Option<f64>>>(),
        ),
        Column::new(
            "dropout_position".into(),
            rows.iter()
                .map(|r| position(r))
                .collect::<Vec<Option<String>>>(),
        ),
        Column::new(
            "train_per_class".into(),
            rows.iter()
                .map(|r| r.cell.train_per_class as u64)
                .collect::<Vec<u64>>(),
        ),
        Column::new(
            "seed".into(),
            rows.iter().map(|r| r.cell.seed).collect::<Vec<u64>>(),
        ),
        col_f64("train_acc", &|r| r.outcome.train_acc),
        col_f64("val_acc", &|r| r.outcome.val_acc),
        col_f64("train_loss", &|r| r.outcome.train_loss),
        col_f64("val_loss", &|r| r.outcome.val_loss),
        Column::new(
            "test_acc".into(),
            rows.iter()
                .map(|r| r.outcome.test_acc)
                .collect::<Vec<Option<f64>>>(),
        ),
        Column::new(
            "test_loss".into(),
            rows.iter()
                .map(|r| r.outcome.test_loss)
                .collect::<Vec<Option<f64>>>(),
        ),
        Column::new(
            "bn_var_ratio".into(),
            rows.iter()
                .map(|r| r.outcome.bn_var_ratio)
                .collect::<Vec<Option<f64>>>(),
        ),
        Column::new(
            "params".into(),
            rows.iter()
                .map(|r| r.outcome.params as u64)
                .collect::<Vec<u64>>(),
        ),
        Column::new(
            "steps".into(),
            rows.iter()
                .map(|r| r.outcome.steps as u64)
                .collect::<Vec<u64>>(),
        ),
        col_f64("seconds", &|r| r.outcome.seconds),
        col_str("config_hash", &|r| r.provenance.config_hash.clone()),
        col_str("features_sha256", &|r| r.provenance.features_sha256.clone()),
        col_str("backbone_sha256", &|r| r.provenance.backbone_sha256.clone()),
        col_str("dataset_sha256", &|r| r.provenance.dataset_sha256.clone()),
        col_str("backend", &|r| r.provenance.backend.clone()),
        col_str("ablate_version", &|r| r.provenance.ablate_version.clone()),
    ])?;

    let epoch_rows: Vec<(&CellRecord, &ablate_train::EpochMetrics)> = rows
        .iter()
        .flat_map(|r| r.outcome.epochs.iter().map(move |e| (*r, e)))
        .collect();
    let epochs = DataFrame::new_infer_height(vec![
        Column::new(
            "cell_id".into(),
            epoch_rows
                .iter()
                .map(|(r, _)| r.cell_id.clone())
                .collect::<Vec<String>>(),
        ),
        Column::new(
            "epoch".into(),
            epoch_rows
                .iter()
                .map(|(_, e)| e.epoch as u64)
                .collect::<Vec<u64>>(),
        ),
        Column::new(
            "train_loss".into(),
            epoch_rows
                .iter()
                .map(|(_, e)| e.train_loss)
                .collect::<Vec<f64>>(),
        ),
        Column::new(
            "val_loss".into(),
            epoch_rows
                .iter()
                .map(|(_, e)| e.val_loss)
                .collect::<Vec<f64>>(),
        ),
        Column::new(
            "val_acc".into(),
            epoch_rows
                .iter()
                .map(|(_, e)| e.val_acc)
                .collect::<Vec<f64>>(),
        ),
        Column::new(
            "bias_grad_max".into(),
            epoch_rows
                .iter()
                .map(|(_, e)| e.bias_grad_max)
                .collect::<Vec<Option<f64>>>(),
        ),
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
