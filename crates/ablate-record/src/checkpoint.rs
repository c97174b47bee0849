//! A fine-tuning cell's state after each epoch, so that an interrupted cell (kill -9 included)
//! resumes at its last finished epoch instead of starting over.
//!
//! The trainer never touches files: it hands a [`CellState`] (what the epochs recorded, and the
//! network's and optimizer's state as bytes it serialized) to a [`CheckpointStore`] the runner gives
//! it, and asks the store for one to resume. [`CheckpointDir`] is the store on disk.
//!
//! A checkpoint records the config hash it was trained under: one from another config (a changed
//! `[finetune] backbone_lr`, say) is removed and the cell starts from the pretrained weights, never
//! resumed under a record that names the new config.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic::write_atomic;
use crate::outcome::EpochLog;

/// A cell's state after its last finished epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct CellState {
    /// What the finished epochs recorded.
    pub log: EpochLog,
    /// The network after them (weights, BatchNorm running statistics, parameter ids), as the
    /// trainer serialized it.
    pub model: Vec<u8>,
    /// The optimizer's state after them, as the trainer serialized it.
    pub optimizer: Vec<u8>,
}

/// Why a checkpoint could not be saved or resumed; `at` names where it lives.
#[derive(Debug, thiserror::Error)]
#[error("checkpoint {at}: {message}")]
pub struct CheckpointError {
    pub at: String,
    pub message: String,
}

/// Where one cell's state is kept between epochs.
pub trait CheckpointStore: Sync {
    /// Where it lives, for error messages (a folder, "memory").
    fn at(&self) -> String;

    /// Saves the state after the epochs of `state.log`, replacing the one saved before.
    fn save(&self, state: &CellState) -> Result<(), CheckpointError>;

    /// The state saved last; `None` when there is none to resume.
    fn resume(&self) -> Result<Option<CellState>, CheckpointError>;

    /// Forgets the saved state (the cell's record is safe, or it starts afresh).
    fn remove(&self);
}

/// The checkpoint of one cell in a folder of its own.
///
/// Crash-safe by ordering: the network and optimizer files of epoch k are written first, then a
/// small progress file naming k replaces the previous one atomically, then epoch k-1's files are
/// removed. Whatever is interrupted, the progress file names a complete epoch.
#[derive(Debug, Clone)]
pub struct CheckpointDir {
    dir: PathBuf,
    cell_id: String,
    config_hash: String,
}

/// How far a cell got: the progress file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub cell_id: String,
    /// The config the state was trained under. Empty in checkpoints written before it was
    /// recorded: those are from an unknown config and never resumed.
    #[serde(default)]
    pub config_hash: String,
    /// What the finished epochs recorded; the files hold the state after the last of them.
    #[serde(flatten)]
    pub log: EpochLog,
}

const PROGRESS: &str = "progress.json";

impl CheckpointDir {
    /// The checkpoint of cell `cell_id` trained under config `config_hash`, in `dir`.
    pub fn new(dir: &Path, cell_id: &str, config_hash: &str) -> Self {
        CheckpointDir {
            dir: dir.to_owned(),
            cell_id: cell_id.to_string(),
            config_hash: config_hash.to_string(),
        }
    }

    fn model(&self, epoch: usize) -> PathBuf {
        self.dir.join(format!("model-epoch{epoch}.bpk"))
    }

    fn optimizer(&self, epoch: usize) -> PathBuf {
        self.dir.join(format!("optimizer-epoch{epoch}.bpk"))
    }

    fn error(path: &Path, message: impl std::fmt::Display) -> CheckpointError {
        CheckpointError {
            at: path.display().to_string(),
            message: message.to_string(),
        }
    }

    fn discard(&self) -> Result<Option<CellState>, CheckpointError> {
        std::fs::remove_dir_all(&self.dir).map_err(|e| Self::error(&self.dir, e))?;
        Ok(None)
    }
}

impl CheckpointStore for CheckpointDir {
    fn at(&self) -> String {
        self.dir.display().to_string()
    }

    fn save(&self, state: &CellState) -> Result<(), CheckpointError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| Self::error(&self.dir, e))?;
        let epoch = state.log.epochs.len();
        let model = self.model(epoch);
        write_atomic(&model, &state.model).map_err(|e| Self::error(&model, e))?;
        let optimizer = self.optimizer(epoch);
        write_atomic(&optimizer, &state.optimizer).map_err(|e| Self::error(&optimizer, e))?;
        let progress = Progress {
            cell_id: self.cell_id.clone(),
            config_hash: self.config_hash.clone(),
            log: state.log.clone(),
        };
        let progress_path = self.dir.join(PROGRESS);
        write_atomic(
            &progress_path,
            &serde_json::to_vec_pretty(&progress).expect("progress serializes"),
        )
        .map_err(|e| Self::error(&progress_path, e))?;
        if epoch > 0 {
            // The previous epoch's files are no longer named by the progress file.
            let _ = std::fs::remove_file(self.model(epoch - 1));
            let _ = std::fs::remove_file(self.optimizer(epoch - 1));
        }
        Ok(())
    }

    /// `None` when there is no checkpoint, or when it was trained under another config (it is
    /// removed: the cell starts from the pretrained weights). A checkpoint of another cell is
    /// refused, naming it.
    fn resume(&self) -> Result<Option<CellState>, CheckpointError> {
        let progress_path = self.dir.join(PROGRESS);
        let bytes = match std::fs::read(&progress_path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Self::error(&progress_path, e)),
        };
        let Ok(progress) = serde_json::from_slice::<Progress>(&bytes) else {
            // Written atomically, so unreadable means not ours or from an older format: of an
            // unknown config, never resumed.
            return self.discard();
        };
        if progress.cell_id != self.cell_id {
            return Err(Self::error(
                &progress_path,
                format!(
                    "belongs to cell {}, not {}; remove the folder",
                    progress.cell_id, self.cell_id
                ),
            ));
        }
        if progress.config_hash != self.config_hash {
            return self.discard();
        }
        let epochs_done = progress.log.epochs.len();
        let read = |path: PathBuf| std::fs::read(&path).map_err(|e| Self::error(&path, e));
        Ok(Some(CellState {
            model: read(self.model(epochs_done))?,
            optimizer: read(self.optimizer(epochs_done))?,
            log: progress.log,
        }))
    }

    fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::EpochMetrics;

    fn state(epochs: usize) -> CellState {
        CellState {
            log: EpochLog {
                epochs: (1..=epochs)
                    .map(|epoch| EpochMetrics {
                        epoch,
                        train_loss: 1.0 / epoch as f64,
                        val_loss: 1.0,
                        val_acc: 0.5,
                        bias_grad_max: None,
                    })
                    .collect(),
                steps: 3 * epochs,
                dropped_single_sample_batch: false,
            },
            model: vec![epochs as u8; 4],
            optimizer: vec![7; epochs],
        }
    }

    #[test]
    fn resumes_the_last_saved_epoch_and_keeps_only_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointDir::new(&dir.path().join("c"), "cell", "h1");
        assert_eq!(store.resume().unwrap(), None);
        store.save(&state(1)).unwrap();
        store.save(&state(2)).unwrap();
        assert_eq!(store.resume().unwrap(), Some(state(2)));
        let mut names: Vec<String> = std::fs::read_dir(dir.path().join("c"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["model-epoch2.bpk", "optimizer-epoch2.bpk", "progress.json"]
        );
    }

    #[test]
    fn another_config_is_discarded_and_another_cell_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c");
        CheckpointDir::new(&path, "cell", "old")
            .save(&state(1))
            .unwrap();
        let other_cell = CheckpointDir::new(&path, "other", "old")
            .resume()
            .unwrap_err();
        assert!(
            other_cell.message.contains("belongs to cell cell"),
            "{other_cell}"
        );
        assert_eq!(
            CheckpointDir::new(&path, "cell", "new").resume().unwrap(),
            None
        );
        assert!(!path.exists(), "a stale checkpoint is removed");
    }

    #[test]
    fn a_missing_weights_file_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c");
        let store = CheckpointDir::new(&path, "cell", "h");
        store.save(&state(1)).unwrap();
        std::fs::remove_file(path.join("model-epoch1.bpk")).unwrap();
        let error = store.resume().unwrap_err();
        assert!(error.at.ends_with("model-epoch1.bpk"), "{error}");
    }
}
