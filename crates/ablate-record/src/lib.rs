//! What training one cell records, and how it is kept.
//!
//! The trainer fills an [`EpochLog`] and a [`CellOutcome`]; the results store writes them. They live
//! here, below both, so that the trainer links neither the results tables (polars) nor any file
//! code of its own: a fine-tuning cell's checkpoints go through the [`CheckpointStore`] the runner
//! hands in ([`CheckpointDir`] on disk). Every file written here is written with [`write_atomic`].

mod atomic;
mod checkpoint;
mod outcome;

pub use atomic::write_atomic;
pub use checkpoint::{CellState, CheckpointDir, CheckpointError, CheckpointStore, Progress};
pub use outcome::{CellOutcome, EpochLog, EpochMetrics, FitReport};
