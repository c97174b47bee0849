//! The results folder of one experiment.

use std::collections::BTreeMap;
use std::path::Path;

use ablate_spec::{Cell, Claim, Config, Experiment, ReportSpec};
use serde::{Deserialize, Serialize};

use crate::atomic::write_atomic;
use crate::error::ResultsError;
use crate::layout::{CellFileKind, Layout};
use crate::record::{CellRecord, FailedCell};

/// Written once when a results folder is made; checked on every later run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    pub config_hash: String,
    pub ablate_version: String,
    /// What trained: the hashed part of the experiment, in its canonical form.
    pub experiment: Config,
    /// The claims the report judges: not part of the config hash, so they follow the experiment
    /// file of the latest run.
    #[serde(default)]
    pub claims: Vec<Claim>,
    /// False when the claims are the thread's defaults (the file declares no `[[claims]]`).
    #[serde(default = "declared")]
    pub claims_declared: bool,
    /// The report's prose (`[report]`), like the claims outside the config hash.
    #[serde(default)]
    pub report: ReportSpec,
    /// What the grid trained on (classes, rows per split, feature width), recorded when the
    /// features are first loaded; absent in older folders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataSummary>,
    /// The experiment file the folder was made from, for the commands printed to users.
    #[serde(default)]
    pub source: Option<String>,
}

fn declared() -> bool {
    true
}

/// The data a results folder was trained on, as the features file describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSummary {
    /// The features file (the cache path for extracted features).
    pub features: String,
    pub class_names: Vec<String>,
    /// Feature width.
    pub dim: usize,
    pub train_rows: usize,
    pub val_rows: usize,
    /// 0 without a test split.
    pub test_rows: usize,
    /// Training rows of the smallest class: the largest size a grid can ask for.
    pub smallest_class_rows: usize,
    /// The test split's labels, in its order: with `predictions.parquet` the report resamples test
    /// images and draws confusion matrices without the features file. Empty in older folders.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub test_labels: Vec<u32>,
}

pub struct ResultsStore {
    layout: Layout,
    config_hash: String,
}

impl Manifest {
    /// Reads `folder/manifest.json`.
    pub fn load(folder: &Path) -> Result<Self, ResultsError> {
        let path = Layout::new(folder).manifest();
        let bytes = std::fs::read(&path).map_err(ResultsError::io(&path))?;
        serde_json::from_slice(&bytes).map_err(|e| ResultsError::Corrupt {
            path,
            message: e.to_string(),
        })
    }
}

impl ResultsStore {
    /// Opens (creating it if needed) `root/<name>/` for `experiment`.
    ///
    /// Refuses a folder made by a different config unless `restart` is set, in which case
    /// everything the old config owns ([`Layout::config_owned`]) is removed first.
    pub fn open(root: &Path, experiment: &Experiment, restart: bool) -> Result<Self, ResultsError> {
        Self::open_inner(root, experiment, restart, true)
    }

    /// Opens `root/<name>/` for one shard of a job array: like [`ResultsStore::open`] without
    /// `restart`, and an existing manifest is only read, never rewritten, so shards running at once
    /// write no file in common (each writes only its own cells' files).
    pub fn open_shard(root: &Path, experiment: &Experiment) -> Result<Self, ResultsError> {
        Self::open_inner(root, experiment, false, false)
    }

    /// An existing results folder, with its manifest and the experiment recorded in it.
    pub fn at(folder: &Path) -> Result<(Self, Manifest, Experiment), ResultsError> {
        let manifest = Manifest::load(folder)?;
        let layout = Layout::new(folder);
        let manifest_path = layout.manifest();
        // Validated as an experiment file is: a hand-edited or truncated manifest, or claims that
        // no longer fit the grid, are refused here, naming the manifest.
        let declared = manifest.claims_declared.then(|| manifest.claims.clone());
        let experiment = Experiment::from_parts(
            manifest.experiment.clone(),
            declared,
            manifest.report.clone(),
            &manifest_path,
        )
        .map_err(|e| ResultsError::Corrupt {
            path: manifest_path.clone(),
            message: e.to_string(),
        })?;
        if experiment.config_hash() != manifest.config_hash {
            return Err(ResultsError::Corrupt {
                path: manifest_path,
                message: format!(
                    "its experiment hashes to {}, not to the recorded config {}",
                    experiment.config_hash(),
                    manifest.config_hash
                ),
            });
        }
        let store = Self {
            layout,
            config_hash: manifest.config_hash.clone(),
        };
        Ok((store, manifest, experiment))
    }

    fn open_inner(
        root: &Path,
        experiment: &Experiment,
        restart: bool,
        update_claims: bool,
    ) -> Result<Self, ResultsError> {
        let layout = Layout::under(root, &experiment.config.name);
        let folder = layout.folder().to_owned();
        let config_hash = experiment.config_hash();
        let manifest_path = layout.manifest();
        if restart && folder.exists() {
            layout.remove_config_owned()?;
        }
        match std::fs::read(&manifest_path) {
            Ok(bytes) => {
                let manifest: Manifest =
                    serde_json::from_slice(&bytes).map_err(|e| ResultsError::Corrupt {
                        path: manifest_path.clone(),
                        message: e.to_string(),
                    })?;
                if manifest.config_hash != config_hash {
                    return Err(ResultsError::ConfigMismatch {
                        folder,
                        found: manifest.config_hash,
                        expected: config_hash,
                    });
                }
                let report_parts_changed = manifest.claims[..] != experiment.claims[..]
                    || manifest.claims_declared != experiment.claims.declared
                    || manifest.report != experiment.report;
                if update_claims && report_parts_changed {
                    let updated = Manifest {
                        claims: experiment.claims.to_vec(),
                        claims_declared: experiment.claims.declared,
                        report: experiment.report.clone(),
                        ..manifest
                    };
                    let json = serde_json::to_vec_pretty(&updated).expect("a Manifest serializes");
                    write_atomic(&manifest_path, &json)?;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let cells = layout.cells_dir();
                std::fs::create_dir_all(&cells).map_err(ResultsError::io(&cells))?;
                let manifest = Manifest {
                    name: experiment.config.name.clone(),
                    config_hash: config_hash.clone(),
                    ablate_version: env!("CARGO_PKG_VERSION").to_string(),
                    experiment: experiment.config.clone(),
                    claims: experiment.claims.to_vec(),
                    claims_declared: experiment.claims.declared,
                    report: experiment.report.clone(),
                    data: None,
                    source: Some(experiment.source.display().to_string()),
                };
                let json = serde_json::to_vec_pretty(&manifest).expect("a Manifest serializes");
                write_atomic(&manifest_path, &json)?;
            }
            Err(e) => {
                return Err(ResultsError::Io {
                    path: manifest_path,
                    source: e,
                });
            }
        }
        let cells = layout.cells_dir();
        std::fs::create_dir_all(&cells).map_err(ResultsError::io(&cells))?;
        Ok(Self {
            layout,
            config_hash,
        })
    }

    /// Records what the grid trains on in the manifest (rewritten atomically, only when it changes).
    pub fn record_data(&self, data: &DataSummary) -> Result<(), ResultsError> {
        let manifest = Manifest::load(self.folder())?;
        if manifest.data.as_ref() == Some(data) {
            return Ok(());
        }
        let updated = Manifest {
            data: Some(data.clone()),
            ..manifest
        };
        let json = serde_json::to_vec_pretty(&updated).expect("a Manifest serializes");
        write_atomic(&self.layout.manifest(), &json)
    }

    pub fn folder(&self) -> &Path {
        self.layout.folder()
    }

    /// The paths of the folder.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    pub fn config_hash(&self) -> &str {
        &self.config_hash
    }

    /// The cells of `cells` that have no finished record yet, in the given order.
    pub fn missing_cells(&self, cells: &[Cell]) -> Result<Vec<Cell>, ResultsError> {
        let done = self.records()?;
        Ok(cells
            .iter()
            .filter(|c| !done.contains_key(&c.id()))
            .copied()
            .collect())
    }

    /// Persists a finished cell atomically and clears an earlier failure of it.
    pub fn save(&self, record: &CellRecord) -> Result<(), ResultsError> {
        let json = serde_json::to_vec_pretty(record).expect("a CellRecord serializes");
        write_atomic(&self.layout.cell(&record.cell_id), &json)?;
        match std::fs::remove_file(self.layout.failure(&record.cell_id)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(ResultsError::Io {
                path: self.layout.failure(&record.cell_id),
                source: e,
            }),
            _ => Ok(()),
        }
    }

    pub fn save_failure(&self, failure: &FailedCell) -> Result<(), ResultsError> {
        let json = serde_json::to_vec_pretty(failure).expect("a FailedCell serializes");
        write_atomic(&self.layout.failure(&failure.cell_id), &json)
    }

    /// Every finished cell record, by cell id. A record from another config is refused, naming it.
    pub fn records(&self) -> Result<BTreeMap<String, CellRecord>, ResultsError> {
        let mut records = BTreeMap::new();
        for (path, kind) in self.layout.cell_files()? {
            if kind != CellFileKind::Record {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(ResultsError::io(&path))?;
            let record: CellRecord =
                serde_json::from_slice(&bytes).map_err(|e| ResultsError::Corrupt {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
            if record.provenance.config_hash != self.config_hash {
                return Err(ResultsError::ConfigMismatch {
                    folder: path,
                    found: record.provenance.config_hash,
                    expected: self.config_hash.clone(),
                });
            }
            records.insert(record.cell_id.clone(), record);
        }
        Ok(records)
    }

    /// Failures recorded by the last runs and not yet retried successfully.
    pub fn failures(&self) -> Result<Vec<FailedCell>, ResultsError> {
        let mut failures = Vec::new();
        let paths = self
            .layout
            .cell_files()?
            .into_iter()
            .filter(|(_, kind)| *kind == CellFileKind::Failure)
            .map(|(path, _)| path);
        for path in paths {
            let bytes = std::fs::read(&path).map_err(ResultsError::io(&path))?;
            failures.push(
                serde_json::from_slice(&bytes).map_err(|e| ResultsError::Corrupt {
                    path: path.clone(),
                    message: e.to_string(),
                })?,
            );
        }
        Ok(failures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPERIMENT: &str = r#"
name = "small"
[data]
kind = "features"
path = "f.safetensors"
[grid]
head = ["mlp"]
relu = [true, false]
train_per_class = [10]
seeds = [0, 1]

[[claims]]
id = "R"
says = "ReLU helps"
a = { relu = true }
b = { relu = false }
expect = "higher"
"#;

    /// A manifest is read back as an experiment file is: its config and claims are validated, and
    /// a claim that no longer fits the grid is refused, naming the manifest and the claim.
    #[test]
    fn a_manifest_is_validated_when_read() {
        let dir = tempfile::tempdir().unwrap();
        let experiment = Experiment::from_toml_str(EXPERIMENT, Path::new("small.toml")).unwrap();
        let store = ResultsStore::open(dir.path(), &experiment, false).unwrap();
        let (_, manifest, read) = ResultsStore::at(store.folder()).unwrap();
        assert_eq!(read.config, experiment.config);
        assert_eq!(read.claims, experiment.claims);
        assert_eq!(manifest.config_hash, experiment.config_hash());

        let path = store.layout().manifest();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            text.replace("\"relu\": false", "\"relu\": \"maybe\""),
        )
        .unwrap();
        let err = ResultsStore::at(store.folder()).err().unwrap().to_string();
        assert!(err.contains("manifest.json"), "{err}");

        std::fs::write(&path, text.replace("\"id\": \"R\"", "\"id\": \"R R\"")).unwrap();
        let err = ResultsStore::at(store.folder()).err().unwrap().to_string();
        assert!(
            err.contains("manifest.json") && err.contains("R R"),
            "{err}"
        );
    }
}
