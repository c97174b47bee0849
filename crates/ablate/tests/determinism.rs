//! Same experiment, same numbers: across runs and across worker counts.

use crate::util::{Scratch, csv_without};

#[test]
fn two_runs_write_identical_tables_except_seconds() {
    let s = Scratch::new();
    for (out, jobs) in [("a", "2"), ("b", "1")] {
        let o = s.ablate(&["run", "small.toml", "--out", out, "--jobs", jobs]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let runs_a = csv_without(&s.path("a/small/runs.csv"), &["seconds"]);
    let runs_b = csv_without(&s.path("b/small/runs.csv"), &["seconds"]);
    assert_eq!(runs_a.len(), 1 + 36, "header + one row per cell");
    assert_eq!(runs_a, runs_b);
    assert_eq!(s.read("a/small/epochs.csv"), s.read("b/small/epochs.csv"));

    // The row carries its provenance.
    let header = &runs_a[0];
    for column in [
        "cell_id",
        "config_hash",
        "features_sha256",
        "backend",
        "ablate_version",
        "params",
        "train_acc",
        "val_acc",
    ] {
        assert!(
            header.iter().any(|h| h == column),
            "runs.csv lacks {column}"
        );
    }
    assert!(runs_a[1].iter().any(|v| v == "flex"));
}

#[test]
fn parquet_tables_hold_the_same_rows() {
    use polars::prelude::*;
    let s = Scratch::new();
    let o = s.ablate(&["run", "small.toml", "--out", "r"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let file = std::fs::File::open(s.path("r/small/runs.parquet")).unwrap();
    let runs = ParquetReader::new(file).finish().unwrap();
    assert_eq!(runs.height(), 36);
    let val_acc = runs.column("val_acc").unwrap().f64().unwrap();
    assert!(
        val_acc
            .iter()
            .all(|v| v.is_some_and(|v| (0.0..=1.0).contains(&v)))
    );
    let file = std::fs::File::open(s.path("r/small/epochs.parquet")).unwrap();
    assert_eq!(ParquetReader::new(file).finish().unwrap().height(), 36 * 3);
}

#[test]
fn grid_lists_cells_without_running() {
    let s = Scratch::new();
    let o = s.ablate(&["grid", "small.toml"]);
    assert!(o.status.success());
    let ids: Vec<String> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(ids.len(), 36);
    assert!(ids.contains(&"mlp-bias0-relu1-drop0.5-last1-n60-s1".to_string()));
    assert!(ids.contains(&"linear-last1-n20-s0".to_string()));
    assert!(!s.path("results").exists(), "grid writes nothing");
}
