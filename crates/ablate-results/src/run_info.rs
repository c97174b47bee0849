//! One run of `ablate run` (or one shard of a job array): the machine and the wall time. Timings
//! are not results (they never enter the tables); the report's setup says where the cells ran.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic::write_atomic;
use crate::error::ResultsError;
use crate::layout::Layout;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// `local`, or `shard<K>of<N>` for a job array's task.
    pub label: String,
    pub finished_unix: u64,
    pub cpu: String,
    pub cores: usize,
    /// Cells trained at once.
    pub jobs: usize,
    pub backend: String,
    /// The device a device backend ran on, as it names itself (`NVIDIA H200`, `llvmpipe (LLVM
    /// 15.0.6, 256 bits)`); absent on flex (the CPU above) and in folders written before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// Runs with the same fingerprint round fine-tuning alike (see `ablate bench`). Absent in
    /// folders written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matmul_fingerprint: Option<String>,
    pub cells_trained: usize,
    pub wall_seconds: f64,
    pub ablate_version: String,
}

impl RunInfo {
    /// Writes `run-info/<label>-<finished>.json` (one file per run and shard, so shards never
    /// share a file).
    pub fn save(&self, layout: &Layout) -> Result<PathBuf, ResultsError> {
        let dir = layout.run_info_dir();
        std::fs::create_dir_all(&dir).map_err(ResultsError::io(&dir))?;
        let path = dir.join(format!("{}-{}.json", self.label, self.finished_unix));
        write_atomic(
            &path,
            &serde_json::to_vec_pretty(self).expect("a RunInfo serializes"),
        )?;
        Ok(path)
    }

    /// Every run recorded in the folder, oldest file name first; an empty list when there is no
    /// `run-info/`. A file that is not a RunInfo is an error naming it.
    pub fn load_all(layout: &Layout) -> Result<Vec<RunInfo>, ResultsError> {
        let dir = layout.run_info_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(ResultsError::Io {
                    path: dir,
                    source: e,
                });
            }
        };
        let mut paths: Vec<PathBuf> = Vec::new();
        for entry in entries {
            let path = entry.map_err(ResultsError::io(&dir))?.path();
            let visible = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.'));
            if visible && path.extension().is_some_and(|x| x == "json") {
                paths.push(path);
            }
        }
        paths.sort();
        paths.iter().map(|p| Self::load(p)).collect()
    }

    fn load(path: &Path) -> Result<RunInfo, ResultsError> {
        let bytes = std::fs::read(path).map_err(ResultsError::io(path))?;
        serde_json::from_slice(&bytes).map_err(|e| ResultsError::Corrupt {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(label: &str, finished_unix: u64) -> RunInfo {
        RunInfo {
            label: label.into(),
            finished_unix,
            cpu: "Some CPU".into(),
            cores: 2,
            jobs: 2,
            backend: "flex".into(),
            device: None,
            matmul_fingerprint: Some("b4855851849d6ea3".into()),
            cells_trained: 12,
            wall_seconds: 3.5,
            ablate_version: "0.1.0".into(),
        }
    }

    #[test]
    fn runs_round_trip_in_file_order_and_a_bad_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        assert!(RunInfo::load_all(&layout).unwrap().is_empty());
        let b = info("shard1of2", 20);
        let a = info("local", 10);
        b.save(&layout).unwrap();
        a.save(&layout).unwrap();
        assert_eq!(RunInfo::load_all(&layout).unwrap(), vec![a, b]);

        std::fs::write(layout.run_info_dir().join("zz.json"), "{\"label\": 1}").unwrap();
        let err = RunInfo::load_all(&layout).unwrap_err().to_string();
        assert!(err.contains("zz.json"), "{err}");
    }

    #[test]
    fn the_committed_format_reads() {
        // As `ablate run` wrote it before RunInfo was typed (results/forum/run-info/).
        let json = r#"{"ablate_version":"0.1.0","backend":"flex","cells_trained":1455,"cores":2,
            "cpu":"Intel(R) Xeon(R) Processor","finished_unix":1795694406,"jobs":2,"label":"local",
            "matmul_fingerprint":"b4855851849d6ea3","wall_seconds":2332.160549093}"#;
        let info: RunInfo = serde_json::from_str(json).unwrap();
        assert_eq!(info.cells_trained, 1455);
        assert_eq!(info.matmul_fingerprint.as_deref(), Some("b4855851849d6ea3"));
    }
}
