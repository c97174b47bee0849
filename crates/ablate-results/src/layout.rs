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
//!   slurm/                     job-array scripts, plan and logs
//! ```

use std::path::{Path, PathBuf};

use crate::error::ResultsError;

/// The paths of one results folder (`<root>/<experiment name>/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    folder: PathBuf,
}

/// What a file in `cells/` is, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellFile<'a> {
    /// `<id>.json`: a finished cell.
    Record(&'a str),
    /// `<id>.failed.json`: a cell whose last try failed.
    Failure(&'a str),
}

impl<'a> CellFile<'a> {
    /// Classifies a file name of `cells/`; `None` for anything else (temporary files of an atomic
    /// write start with `.`).
    pub fn parse(name: &'a str) -> Option<Self> {
        if name.starts_with('.') {
            return None;
        }
        if let Some(id) = name.strip_suffix(".failed.json") {
            return Some(CellFile::Failure(id));
        }
        name.strip_suffix(".json").map(CellFile::Record)
    }
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

    /// Everything a config owns: what `--restart` removes before a new config starts. The Slurm
    /// folder stays (its logs are the user's; a new `ablate slurm` rewrites its scripts and plan).
    pub fn config_owned(&self) -> Vec<PathBuf> {
        let mut paths = vec![
            self.cells_dir(),
            self.checkpoints_dir(),
            self.run_info_dir(),
            self.predictions(),
        ];
        for stem in TABLE_STEMS {
            paths.push(self.table_csv(stem));
            paths.push(self.table_parquet(stem));
        }
        // Last: a restart interrupted before this point still finds the old manifest and is refused
        // or restarted again, never mixed.
        paths.push(self.manifest());
        paths
    }

    /// Removes [`Layout::config_owned`], files and folders; a path that is not there is fine.
    pub fn remove_config_owned(&self) -> Result<(), ResultsError> {
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
            let kind = match path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(CellFile::parse)
            {
                Some(CellFile::Record(_)) => CellFileKind::Record,
                Some(CellFile::Failure(_)) => CellFileKind::Failure,
                None => continue,
            };
            files.push((path, kind));
        }
        files.sort();
        Ok(files)
    }
}

/// [`CellFile`] without the id (for listings that keep the path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CellFileKind {
    Record,
    Failure,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_file_names_are_classified_once() {
        assert_eq!(
            CellFile::parse("mlp-bias1-relu0-drop0.5-last1-n25-s0.json"),
            Some(CellFile::Record("mlp-bias1-relu0-drop0.5-last1-n25-s0"))
        );
        assert_eq!(
            CellFile::parse("linear-last1-n25-s0.failed.json"),
            Some(CellFile::Failure("linear-last1-n25-s0"))
        );
        assert_eq!(CellFile::parse(".tmp-abc123"), None);
        assert_eq!(CellFile::parse(".tmp-x.json"), None);
        assert_eq!(CellFile::parse("notes.txt"), None);
    }

    #[test]
    fn a_restart_removes_everything_a_config_owns_and_keeps_slurm() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::under(dir.path(), "exp");
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
        std::fs::write(layout.slurm_dir().join("plan.json"), "{}").unwrap();
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
        // Nothing there: still fine.
        layout.remove_config_owned().unwrap();
    }
}
