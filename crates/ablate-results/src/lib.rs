//! Where results live and how they are written.
//!
//! A results folder `DIR/<experiment name>/` holds (every path named once, in [`Layout`]):
//! - `manifest.json`: the experiment and its config hash. A folder made by another config is refused,
//!   so results of two configs never mix.
//! - `cells/<cell id>.json`: one file per finished cell (metrics, per-epoch rows, provenance), written
//!   atomically the moment the cell ends. A rerun skips the cells that have one: that is the resume.
//! - `cells/<cell id>.failed.json`: the error of a cell that failed; it is retried on the next run.
//! - `runs.csv|parquet` and `epochs.csv|parquet`: tables rebuilt from the cell files, in grid order, so
//!   a resumed run writes the same tables as an uninterrupted one; `predictions.parquet`: every
//!   cell's predicted class per test image.
//! - `checkpoints/<cell id>/`: a fine-tuning cell's state after its last finished epoch, tagged with
//!   the config hash it was trained under.
//! - `run-info/`: one [`RunInfo`] per run (machine, wall time).
//!
//! ```no_run
//! # fn demo(experiment: &ablate_spec::Experiment) -> Result<(), ablate_results::ResultsError> {
//! let store = ablate_results::ResultsStore::open("results".as_ref(), experiment, false)?;
//! let missing = store.missing_cells(&experiment.cells())?;
//! println!("{} cells to run", missing.len());
//! # Ok(()) }
//! ```

mod atomic;
pub mod columns;
mod error;
pub mod layout;
mod record;
mod run_info;
mod store;
mod tables;

pub use ablate_record::{CellOutcome, EpochMetrics, FitReport};
pub use atomic::write_atomic;
pub use error::ResultsError;
pub use layout::Layout;
pub use record::{CellRecord, FailedCell, Provenance};
pub use run_info::RunInfo;
pub use store::{DataSummary, Manifest, ResultsStore};
pub use tables::{Tables, build_tables};
