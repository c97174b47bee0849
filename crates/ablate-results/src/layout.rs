//! Every path of a results folder, named once.
//!
//! The store, the runner (checkpoints), `merge`, `status`, `--restart` and the report all reach the
//! folder's files through [`Layout`], so a file cannot be written by one of them and forgotten by
//! another (a restart that kept a checkpoint would resume weights trained under the old config).
//!
//! ```text
//! <folder>/
//!   manifest.json              the experiment and its config hash
//!   cells/<id>.json            one finished cell
//!   cells/<id>.failed.json     one failed cell (retried on the next run)
//!   checkpoints/<id>/          a fine-tuning cell's state after its last finished epoch
//!   run-info/<label>-<t>.json  one run's machine and wall time (RunInfo)
//!   runs.csv|parquet, epochs.csv|parquet, predictions.parquet    tables rebuilt from cells/
//!   slurm/                     job-array scripts, plan (plan.json, missing-*.cells) and logs
//! ```

use std::path::{Path, PathBuf};

use crate::error::ResultsError;

/// The paths of one results folder (`<root>/<experiment name>/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    folder: PathBuf,
}

/// The tables rebuilt from the cell files (`stem.csv` and `stem.parquet` each).
pub const TABLE_STEMS: [&str; 2] = ["runs", "epochs"];

impl Layout {
    pub fn new(folder: impl Into<PathBuf>) -> Self {
        Layout {
            folder: folder.into(),
        }
    }

    /// `root/<name>/`, the folder `ablate run --out root` writes experiment `name` to.
    pub fn under(root: &Path, name: &str) -> Self {
        Layout::new(root.join(name))
    }

    pub fn folder(&self) -> &Path {
        &self.folder
    }

    pub fn manifest(&self) -> PathBuf {
        self.folder.join("manifest.json")
    }

    pub fn cells_dir(&self) -> PathBuf {
        self.folder.join("cells")
    }

    pub fn cell(&self, id: &str) -> PathBuf {
        self.cells_dir().join(format!("{id}.json"))
    }

    pub fn failure(&self, id: &str) -> PathBuf {
        self.cells_dir().join(format!("{id}.failed.json"))
    }

    pub fn checkpoints_dir(&self) -> PathBuf {
        self.folder.join("checkpoints")
    }

    /// The checkpoint folder of one fine-tuning cell.
    pub fn checkpoint(&self, id: &str) -> PathBuf {
        self.checkpoints_dir().join(id)
    }

    pub fn run_info_dir(&self) -> PathBuf {
        self.folder.join("run-info")
    }

    /// `stem.csv` of a table ([`TABLE_STEMS`]).
    pub fn table_csv(&self, stem: &str) -> PathBuf {
        self.folder.join(format!("{stem}.csv"))
    }

    /// `stem.parquet` of a table ([`TABLE_STEMS`]).
    pub fn table_parquet(&self, stem: &str) -> PathBuf {
        self.folder.join(format!("{stem}.parquet"))
    }

    /// Per-image test predictions (Parquet only: a list per cell has no CSV form).
    pub fn predictions(&self) -> PathBuf {
        self.folder.join("predictions.parquet")
    }

    pub fn slurm_dir(&self) -> PathBuf {
        self.folder.join("slurm")
    }

    /// The last `ablate slurm` plan (shard count, cell list).
    pub fn slurm_plan(&self) -> PathBuf {
        self.slurm_dir().join("plan.json")
    }

    /// Everything a config owns: what `--restart` removes before a new config starts. Of `slurm/`,
    /// the plan and the missing-cell lists `--missing` wrote (both name the old grid's cells); its
    /// logs are the user's and its scripts are rewritten by the next `ablate slurm`.
    pub fn config_owned(&self) -> Vec<PathBuf> {
        let mut paths = vec![
            self.cells_dir(),
            self.checkpoints_dir(),
            self.run_info_dir(),
            self.predictions(),
            self.slurm_plan(),
        ];
        if let Ok(entries) = std::fs::read_dir(self.slurm_dir()) {
            let mut lists: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("missing-") && n.ends_with(".cells"))
                })
                .collect();
            lists.sort();
            paths.extend(lists);
        }
        for stem in TABLE_STEMS {
            paths.push(self.table_csv(stem));
            paths.push(self.table_parquet(stem));
        }
        // Last: a restart interrupted before this point still finds the old manifest and is refused
        // or restarted again, never mixed.
        paths.push(self.manifest());
        paths
    }

    /// Removes [`Layout::config_owned`], files and folders; a path that is not there is fine. Only
    /// a results folder is touched: without a manifest, the folder is not one of ablate's and
    /// nothing is removed.
    pub fn remove_config_owned(&self) -> Result<(), ResultsError> {
        if !self.manifest().is_file() {
            return Ok(());
        }
        for path in self.config_owned() {
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            match removed {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(ResultsError::Io { path, source: e });
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The files of `cells/` with what each is, sorted by name. A missing `cells/` is an error
    /// naming it.
    pub fn cell_files(&self) -> Result<Vec<(PathBuf, CellFileKind)>, ResultsError> {
        let dir = self.cells_dir();
        let entries = std::fs::read_dir(&dir).map_err(ResultsError::io(&dir))?;
        let mut files = Vec::new();
        for entry in entries {
            let path = entry.map_err(ResultsError::io(&dir))?.path();
            let Some(kind) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(CellFileKind::of)
            else {
                continue;
            };
            files.push((path, kind));
        }
        files.sort();
        Ok(files)
    }
}

/// What a file in `cells/` is, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CellFileKind {
    /// `<id>.json`: a finished cell.
    Record,
    /// `<id>.failed.json`: a cell whose last try failed.
    Failure,
}

impl CellFileKind {
    /// Classifies a file name of `cells/`; `None` for anything else (temporary files of an atomic
    /// write start with `.`).
    pub fn of(name: &str) -> Option<Self> {
        if name.starts_with('.') {
            None
        } else if name.ends_with(".failed.json") {
            Some(CellFileKind::Failure)
        } else if name.ends_with(".json") {
            Some(CellFileKind::Record)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_file_names_are_classified_once() {
        assert_eq!(
            CellFileKind::of("mlp-bias1-relu0-drop0.5-last1-n25-s0.json"),
            Some(CellFileKind::Record)
        );
        assert_eq!(
            CellFileKind::of("linear-last1-n25-s0.failed.json"),
            Some(CellFileKind::Failure)
        );
        assert_eq!(CellFileKind::of(".tmp-abc123"), None);
        assert_eq!(CellFileKind::of(".tmp-x.json"), None);
        assert_eq!(CellFileKind::of("notes.txt"), None);
    }

    #[test]
    fn a_restart_removes_everything_a_config_owns_and_keeps_slurm_logs() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::under(dir.path(), "exp");
        // Not a results folder (no manifest): nothing is touched.
        std::fs::create_dir_all(layout.checkpoints_dir()).unwrap();
        layout.remove_config_owned().unwrap();
        assert!(layout.checkpoints_dir().is_dir());
        for d in [
            layout.cells_dir(),
            layout.checkpoint("cell-a"),
            layout.run_info_dir(),
            layout.slurm_dir(),
        ] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(layout.cell("cell-a"), "{}").unwrap();
        std::fs::write(layout.checkpoint("cell-a").join("progress.json"), "{}").unwrap();
        std::fs::write(layout.predictions(), "x").unwrap();
        std::fs::write(layout.manifest(), "{}").unwrap();
        std::fs::write(layout.slurm_plan(), "{}").unwrap();
        std::fs::write(layout.slurm_dir().join("missing-1.cells"), "x").unwrap();
        std::fs::create_dir_all(layout.slurm_dir().join("logs")).unwrap();
        for stem in TABLE_STEMS {
            std::fs::write(layout.table_csv(stem), "x").unwrap();
            std::fs::write(layout.table_parquet(stem), "x").unwrap();
        }
        layout.remove_config_owned().unwrap();
        let left: Vec<String> = std::fs::read_dir(layout.folder())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, vec!["slurm".to_string()]);
        let slurm: Vec<String> = std::fs::read_dir(layout.slurm_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(slurm, vec!["logs".to_string()]);
        // Nothing there: still fine.
        layout.remove_config_owned().unwrap();
    }
}
