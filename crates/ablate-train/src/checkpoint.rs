//! A fine-tuning cell's state after each epoch, so that an interrupted cell (kill -9 included)
//! resumes at its last finished epoch instead of starting over: the network (weights, BatchNorm
//! running statistics, parameter ids), the optimizer's state, and what the epochs recorded.
//!
//! A checkpoint records the config hash it was trained under: one from another config (a changed
//! `[finetune] backbone_lr`, say) is removed and the cell starts from the pretrained weights, never
//! resumed under a record that names the new config.
//!
//! Crash-safe by ordering: the network and optimizer files of epoch k are written first, then a
//! small progress file naming k replaces the previous one atomically, then epoch k-1's files are
//! removed. Whatever is interrupted, the progress file names a complete epoch.

use std::path::{Path, PathBuf};

use ablate_results::write_atomic;
use burn::optim::ModuleOptimizer;
use burn::store::{BurnpackStore, ModuleSnapshot};
use serde::{Deserialize, Serialize};

use crate::epochs::EpochLog;
use crate::error::TrainError;

/// Where one cell's checkpoint lives (a folder of its own).
#[derive(Debug, Clone)]
pub struct Checkpoint {
    dir: PathBuf,
    cell_id: String,
    config_hash: String,
}

/// How far a cell got.
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

impl Checkpoint {
    /// The checkpoint of cell `cell_id` trained under config `config_hash`, in `dir`.
    pub fn new(dir: &Path, cell_id: &str, config_hash: &str) -> Self {
        Checkpoint {
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

    fn error(&self, path: &Path, message: impl std::fmt::Display) -> TrainError {
        TrainError::Checkpoint {
            path: path.to_owned(),
            message: message.to_string(),
        }
    }

    /// Saves the state after the epochs of `log`.
    pub fn save(
        &self,
        net: &impl ModuleSnapshot,
        optim: &ModuleOptimizer,
        log: &EpochLog,
    ) -> Result<(), TrainError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| self.error(&self.dir, e))?;
        let epoch = log.epochs.len();
        let progress = Progress {
            cell_id: self.cell_id.clone(),
            config_hash: self.config_hash.clone(),
            log: log.clone(),
        };
        let model = self.model(epoch);
        net.save_into(&mut BurnpackStore::from_file(&model).overwrite(true))
            .map_err(|e| self.error(&model, e))?;
        let optimizer = self.optimizer(epoch);
        optim
            .save(&optimizer)
            .map_err(|e| self.error(&optimizer, e))?;
        let progress_path = self.dir.join(PROGRESS);
        write_atomic(
            &progress_path,
            &serde_json::to_vec_pretty(&progress).expect("progress serializes"),
        )
        .map_err(|e| self.error(&progress_path, e))?;
        if epoch > 0 {
            // The previous epoch's files are no longer named by the progress file.
            let _ = std::fs::remove_file(self.model(epoch - 1));
            let _ = std::fs::remove_file(self.optimizer(epoch - 1));
        }
        Ok(())
    }

    /// The saved state, loaded into `net` (built as for a fresh start) and `optim`; `None` when
    /// there is no checkpoint, or when it was trained under another config (it is removed: the cell
    /// starts from the pretrained weights). A checkpoint of another cell is refused, naming it.
    pub fn resume(
        &self,
        net: &mut impl ModuleSnapshot,
        optim: ModuleOptimizer,
    ) -> Result<(ModuleOptimizer, Option<Progress>), TrainError> {
        let progress_path = self.dir.join(PROGRESS);
        let bytes = match std::fs::read(&progress_path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((optim, None)),
            Err(e) => return Err(self.error(&progress_path, e)),
        };
        let Ok(progress) = serde_json::from_slice::<Progress>(&bytes) else {
            // Written atomically, so unreadable means not ours or from an older format: of an
            // unknown config, never resumed.
            std::fs::remove_dir_all(&self.dir).map_err(|e| self.error(&self.dir, e))?;
            return Ok((optim, None));
        };
        if progress.cell_id != self.cell_id {
            return Err(self.error(
                &progress_path,
                format!(
                    "belongs to cell {}, not {}; remove the folder",
                    progress.cell_id, self.cell_id
                ),
            ));
        }
        if progress.config_hash != self.config_hash {
            std::fs::remove_dir_all(&self.dir).map_err(|e| self.error(&self.dir, e))?;
            return Ok((optim, None));
        }
        let epochs_done = progress.log.epochs.len();
        let model = self.model(epochs_done);
        let result = net
            .load_from(&mut BurnpackStore::from_file(&model))
            .map_err(|e| self.error(&model, e))?;
        if !result.errors.is_empty() || !result.missing.is_empty() {
            return Err(self.error(
                &model,
                format!(
                    "does not fit this cell's network ({} errors, {} missing tensors)",
                    result.errors.len(),
                    result.missing.len()
                ),
            ));
        }
        let optimizer = self.optimizer(epochs_done);
        let optim = optim
            .load(&optimizer)
            .map_err(|e| self.error(&optimizer, e))?;
        Ok((optim, Some(progress)))
    }

    /// Removes the checkpoint (the cell's record is saved: nothing left to resume).
    pub fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
