//! A results folder as the report reads it: the typed experiment of its manifest (grid, claims,
//! report prose), the runs and epochs tables, and the grid's head variants. Variants come from the
//! grid, never from parsing the `variant` column: a name the grid does not make is an error.

use std::collections::HashMap;
use std::path::Path;

use ablate_results::columns::{epochs as ec, predictions as pc, runs as rc};
use ablate_results::{Layout, Manifest, ResultsStore};
use ablate_spec::{Experiment, HeadVariant, Metric, Switch};
use polars::prelude::*;

use crate::error::ReportError;
use crate::frame::{strings, u64s};

pub struct Results {
    pub manifest: Manifest,
    pub experiment: Experiment,
    /// The cells every part of the report reads: all but the held ones.
    pub runs: DataFrame,
    /// Cells with a part of the seed held fixed (`held_fixed`), which only the seed split reads;
    /// `None` when the grid has none.
    pub held: Option<DataFrame>,
    pub epochs: DataFrame,
    /// The grid's variants that have cells (the held ones left out), in grid order.
    pub variants: Vec<HeadVariant>,
    /// Per-image test predictions with the test labels, when the folder recorded them.
    pub test: Option<TestPredictions>,
    /// The results folder it was read from (`None` for results made up in tests).
    pub folder: Option<std::path::PathBuf>,
}

/// What every cell predicted on the test split (`predictions.parquet`) and the split's labels (the
/// manifest): enough for the intervals over test images and for confusion matrices.
#[derive(Debug, Clone, Default)]
pub struct TestPredictions {
    pub labels: Vec<u32>,
    pub by_cell: HashMap<String, Vec<u32>>,
}

impl TestPredictions {
    /// Reads `folder/predictions.parquet`; `None` when the folder has none or no test labels.
    pub fn load(folder: &Path, labels: &[u32]) -> Result<Option<Self>, ReportError> {
        let path = Layout::new(folder).predictions();
        if labels.is_empty() || !path.exists() {
            return Ok(None);
        }
        let bad = |message: String| ReportError::Input {
            path: path.clone(),
            message,
        };
        let file = std::fs::File::open(&path).map_err(ReportError::io(&path))?;
        let frame = ParquetReader::new(file)
            .finish()
            .map_err(|e| bad(e.to_string()))?;
        let ids = strings(&frame, pc::CELL_ID)?;
        let lists = frame
            .column(pc::TEST_PREDICTED)
            .and_then(|c| c.list().cloned())
            .map_err(|e| bad(format!("column `{}`: {e}", pc::TEST_PREDICTED)))?;
        let mut by_cell = HashMap::new();
        for (id, list) in ids.into_iter().zip(lists.amortized_iter()) {
            let predicted: Vec<u32> = list
                .ok_or_else(|| bad(format!("cell `{id}` has no predictions")))?
                .as_ref()
                .u32()
                .map_err(|e| bad(e.to_string()))?
                .into_no_null_iter()
                .collect();
            if predicted.len() != labels.len() {
                return Err(bad(format!(
                    "cell `{id}` predicts {} test rows; the manifest has {} test labels",
                    predicted.len(),
                    labels.len()
                )));
            }
            by_cell.insert(id, predicted);
        }
        Ok(Some(Self {
            labels: labels.to_vec(),
            by_cell,
        }))
    }

    /// 1 where the cell is right, 0 where it is wrong, per test image.
    pub fn correct(&self, cell: &str) -> Option<Vec<f64>> {
        self.by_cell.get(cell).map(|p| {
            p.iter()
                .zip(&self.labels)
                .map(|(a, b)| f64::from(u8::from(a == b)))
                .collect()
        })
    }
}

impl Results {
    /// Reads `manifest.json` and the runs/epochs tables (Parquet, or their CSV twins) of `folder`.
    pub fn load(folder: &Path) -> Result<Self, ReportError> {
        let (_, manifest, experiment) = ResultsStore::at(folder)?;
        let labels = manifest
            .data
            .as_ref()
            .map_or(&[][..], |d| d.test_labels.as_slice());
        let test = TestPredictions::load(folder, labels)?;
        let mut results = Self::new(
            manifest,
            experiment,
            read_table(folder, "runs")?,
            read_table(folder, "epochs")?,
        )?;
        results.test = test;
        results.folder = Some(folder.to_owned());
        Ok(results)
    }

    /// The report's view of tables read elsewhere (or made up, in tests). Every `variant` of `runs`
    /// must be a variant of the experiment's grid.
    pub fn new(
        manifest: Manifest,
        experiment: Experiment,
        mut runs: DataFrame,
        epochs: DataFrame,
    ) -> Result<Self, ReportError> {
        // Columns that older results lack: empty, so that every query can name them.
        for metric in [
            Metric::TestAcc,
            Metric::TestLoss,
            Metric::BnVarRatio,
            Metric::BnRefitGain,
        ] {
            let name = metric.column();
            if runs.column(name).is_err() {
                runs.with_column(Column::full_null(
                    name.into(),
                    runs.height(),
                    &DataType::Float64,
                ))
                .map_err(ReportError::table("adding an empty column"))?;
            }
        }
        let grid = experiment.head_variants();
        let mut names = strings(&runs, rc::VARIANT)?;
        names.sort();
        names.dedup();
        if let Some(stranger) = names.iter().find(|n| !grid.iter().any(|v| v.name() == **n)) {
            return Err(ReportError::Input {
                path: "runs".into(),
                message: format!(
                    "variant `{stranger}` is not a head variant of the experiment's grid"
                ),
            });
        }
        let is_held = |v: &HeadVariant| {
            v.get(Switch::HeldFixed)
                .is_some_and(|x| x != Switch::HeldFixed.spec().default)
        };
        let held_names: Vec<String> = grid
            .iter()
            .filter(|v| is_held(v))
            .map(HeadVariant::name)
            .collect();
        let variants = grid
            .into_iter()
            .filter(|v| !is_held(v) && names.binary_search(&v.name()).is_ok())
            .collect();
        let (runs, held) = if held_names.is_empty() {
            (runs, None)
        } else {
            let mask: BooleanChunked = strings(&runs, rc::VARIANT)?
                .iter()
                .map(|n| held_names.contains(n))
                .collect();
            let held = runs
                .filter(&mask)
                .map_err(ReportError::table("setting the held cells apart"))?;
            let rest = runs
                .filter(&!&mask)
                .map_err(ReportError::table("setting the held cells apart"))?;
            (rest, (held.height() > 0).then_some(held))
        };
        Ok(Self {
            manifest,
            experiment,
            runs,
            held,
            epochs,
            variants,
            test: None,
            folder: None,
        })
    }

    /// The class names the run recorded (empty for older folders); index = class label.
    pub fn class_names(&self) -> &[String] {
        self.manifest
            .data
            .as_ref()
            .map_or(&[][..], |d| d.class_names.as_slice())
    }

    /// The grid variant of a `variant` column value.
    pub fn variant(&self, name: &str) -> Option<&HeadVariant> {
        self.variants.iter().find(|v| v.name() == name)
    }

    /// The variants' names, in grid order.
    pub fn names(&self) -> Vec<String> {
        self.variants.iter().map(HeadVariant::name).collect()
    }

    /// Whether every cell was evaluated on a test split (features with `test_x`/`test_y`).
    pub fn has_test(&self) -> bool {
        self.runs
            .column(Metric::TestAcc.column())
            .is_ok_and(|c| c.null_count() == 0)
    }

    /// The training sizes, ascending.
    pub fn sizes(&self) -> Result<Vec<u64>, ReportError> {
        let unique = self
            .runs
            .clone()
            .lazy()
            .select([col(rc::TRAIN_PER_CLASS)])
            .unique(None, UniqueKeepStrategy::First)
            .sort([rc::TRAIN_PER_CLASS], SortMultipleOptions::default())
            .collect()
            .map_err(ReportError::table("listing the training sizes"))?;
        u64s(&unique, rc::TRAIN_PER_CLASS)
    }
}

fn read_table(folder: &Path, name: &str) -> Result<DataFrame, ReportError> {
    let layout = Layout::new(folder);
    let parquet = layout.table_parquet(name);
    let csv = layout.table_csv(name);
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
            rc::CELL_ID,
            rc::HEAD,
            rc::VARIANT,
            rc::TRAIN_PER_CLASS,
            rc::SEED,
            Metric::TrainAcc.column(),
            Metric::ValAcc.column(),
            Metric::TrainLoss.column(),
            Metric::ValLoss.column(),
            Metric::Params.column(),
            rc::SECONDS,
        ]
    } else {
        &[
            ec::CELL_ID,
            ec::EPOCH,
            ec::TRAIN_LOSS,
            ec::VAL_LOSS,
            ec::VAL_ACC,
            ec::BIAS_GRAD_MAX,
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
