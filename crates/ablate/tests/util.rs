//! A scratch folder with a small features file and experiment, and a way to run the binary in it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Scratch {
    pub dir: tempfile::TempDir,
}

/// A small grid: 8 mlp variants + linear over 2 sizes and 2 seeds = 36 cells of well under a second.
pub const EXPERIMENT: &str = r#"
name = "small"
[data]
kind = "features"
path = "features.safetensors"
[train]
epochs = 3
batch_size = 32
hidden = 32
[grid]
head = ["mlp", "linear"]
bias_before_bn = [true, false]
relu = [true, false]
dropout = [0.0, 0.5]
train_per_class = [20, 60]
seeds = [0, 1]
"#;

impl Scratch {
    /// Features with 4 classes x 80 training rows, 40 validation rows, 40 test rows, 48 features.
    pub fn new() -> Self {
        Self::with_test_split(40)
    }

    /// The same features with `test_per_class` test rows per class (0: no test split).
    pub fn with_test_split(test_per_class: usize) -> Self {
        let scratch = Scratch {
            dir: tempfile::tempdir().unwrap(),
        };
        let out = scratch.ablate(&[
            "synth-features",
            "features.safetensors",
            "--dim",
            "48",
            "--train-per-class",
            "80",
            "--val-per-class",
            "40",
            "--test-per-class",
            &test_per_class.to_string(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        scratch.write("small.toml", EXPERIMENT);
        scratch
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).unwrap();
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ablate"));
        cmd.args(args).current_dir(self.dir.path());
        cmd
    }

    pub fn ablate(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }
}

/// A CSV table with the named columns dropped (for comparing runs except timings).
pub fn csv_without(path: &Path, drop: &[&str]) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| !drop.contains(&header[i]))
        .collect();
    std::iter::once(header.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .chain(lines.map(|l| l.split(',').map(str::to_string).collect()))
        .map(|row: Vec<String>| keep.iter().map(|&i| row[i].clone()).collect())
        .collect()
}
