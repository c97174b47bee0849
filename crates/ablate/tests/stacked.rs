//! Stacked and unstacked runs of one grid record the same numbers: every column of runs.csv but
//! `seconds`, epochs.csv, and every cell's record (its test predictions included), on a grid of
//! both heads, every per-cell switch a stack sets, epoch prefixes, a second layer order, fastai's
//! head and L-BFGS probes (which train alone either way).

use crate::util::{Scratch, csv_without};

const GRID: &str = r#"
name = "stacks"
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
input_dropout = { mlp = [0.0, 0.2], linear = [0.0] }
last_bias = { mlp = [true], linear = [true, false] }
weight_decay = { mlp = [0.0], linear = [0.0, 1e-3] }
train_per_class = [20]
seeds = [0, 1]

[[grid.also]]
head = ["mlp"]
dropout = [0.5]
dropout_position = ["before_bn"]
lr = [1e-3, 3e-3]
epochs = [1, 3]

[[grid.also]]
head = ["linear"]
fit = ["lbfgs"]
weight_decay = [1e-3]

[[grid.also]]
head = ["fastai"]
dropout = [0.0, 0.5]
"#;

/// A cell record's fields but the time it took.
fn record_without_time(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["outcome"]["seconds"] = serde_json::Value::Null;
    value
}

#[test]
fn stacked_and_unstacked_runs_record_the_same_numbers() {
    let s = Scratch::new();
    s.write("stacks.toml", GRID);
    let listed = s.ablate(&["grid", "stacks.toml"]);
    let summary = String::from_utf8_lossy(&listed.stderr).to_string();
    assert!(summary.contains("stacks of up to"), "{summary}");
    // `--stack 1`: every cell alone; 0: every head stacked, as large as memory allows; no flag:
    // the default (on flex the linear probes stacked, model1 alone). Two workers, so the stacks
    // are also cut into pieces that keep both busy.
    for (out, stack) in [
        ("alone", Some("1")),
        ("stacked", Some("0")),
        ("default", None),
    ] {
        let mut args = vec![
            "run",
            "stacks.toml",
            "--out",
            out,
            "--jobs",
            "2",
            "--no-report",
        ];
        if let Some(n) = stack {
            args.extend(["--stack", n]);
        }
        let o = s.ablate(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let alone = csv_without(&s.path("alone/stacks/runs.csv"), &["seconds"]);
    assert!(alone.len() > 40, "{} rows", alone.len());
    for other in ["stacked", "default"] {
        let runs = csv_without(&s.path(&format!("{other}/stacks/runs.csv")), &["seconds"]);
        assert_eq!(alone, runs, "{other}");
        assert_eq!(
            s.read("alone/stacks/epochs.csv"),
            s.read(&format!("{other}/stacks/epochs.csv")),
            "{other}"
        );
    }
    let mut compared = 0;
    for entry in std::fs::read_dir(s.path("alone/stacks/cells")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap();
        for other in ["stacked", "default"] {
            let other = s.path(&format!("{other}/stacks/cells")).join(name);
            assert_eq!(
                record_without_time(&path),
                record_without_time(&other),
                "{}",
                other.display()
            );
        }
        compared += 1;
    }
    assert_eq!(compared, alone.len() - 1, "a record per cell");
}
