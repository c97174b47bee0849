//! Shards: each runs its own cells, `ablate merge` rebuilds the tables a single run writes, bit for
//! bit but the timings; `ablate status` counts per shard; bad merges are refused, naming the culprit.

use crate::util::{EXPERIMENT, Scratch, csv_without};

#[test]
fn shards_then_merge_equal_one_run() {
    let s = Scratch::new();
    let o = s.ablate(&["run", "small.toml", "--out", "single", "--no-report"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // Two of three shards: the merge lists what is missing and exits 2.
    for shard in ["0/3", "2/3"] {
        let o = s.ablate(&["run", "small.toml", "--out", "r", "--shard", shard]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert!(
        !s.path("r/small/runs.csv").exists(),
        "a shard writes no table"
    );
    let status = s.ablate(&["status", "r/small", "--shards", "3"]);
    let table = String::from_utf8_lossy(&status.stdout);
    let row = |k: &str| -> Vec<String> {
        table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(k))
            .unwrap_or_else(|| panic!("no row {k} in {table}"))
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    assert_eq!(row("1")[2], "0", "shard 1 has done nothing: {table}");
    assert_eq!(row("0")[1], row("0")[2], "shard 0 is done: {table}");
    assert_eq!(row("total")[1], "36");
    let o = s.ablate(&["merge", "r/small", "--no-report"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cells missing") && err.contains("--missing"),
        "{err}"
    );

    let o = s.ablate(&["run", "small.toml", "--out", "r", "--shard", "1/3"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = s.ablate(&["merge", "r/small"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for table in ["runs.csv", "epochs.csv"] {
        assert_eq!(
            csv_without(&s.path(&format!("r/small/{table}")), &["seconds"]),
            csv_without(&s.path(&format!("single/small/{table}")), &["seconds"]),
            "{table}"
        );
    }
    assert!(s.path("report/small/REPORT.md").exists());

    // --from copies the cells of another folder of the same config...
    let o = s.ablate(&["merge", "r/small", "--from", "single/small", "--no-report"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // ...and refuses one of another config, naming it, before writing anything.
    s.write(
        "other.toml",
        &EXPERIMENT.replace("epochs = 3", "epochs = 2"),
    );
    let o = s.ablate(&["run", "other.toml", "--out", "other", "--no-report"]);
    assert!(o.status.success());
    let before = s.read("r/small/runs.csv");
    let o = s.ablate(&["merge", "r/small", "--from", "other/small"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("other/small") && err.contains("different configs"),
        "{err}"
    );
    assert_eq!(s.read("r/small/runs.csv"), before);

    let o = s.ablate(&["merge", "nowhere/small"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("nowhere/small/manifest.json"), "{err}");
}

#[test]
fn a_shard_cell_list_restricts_the_run() {
    let s = Scratch::new();
    s.write(
        "list.cells",
        "# two cells\nlinear-last1-n20-s0\n\nmlp-bias1-relu1-drop0-last1-n60-s1\n",
    );
    let o = s.ablate(&["run", "small.toml", "--out", "r", "--cells", "list.cells"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read_dir(s.path("r/small/cells")).unwrap().count(),
        2
    );

    s.write("bad.cells", "linear-last1-n20-s0\nlinear-last1-n21-s0\n");
    let o = s.ablate(&["run", "small.toml", "--out", "r", "--cells", "bad.cells"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("bad.cells:2") && err.contains("linear-last1-n21-s0"),
        "{err}"
    );
}

#[test]
fn slurm_dry_run_prints_balanced_shards_and_the_scripts() {
    let s = Scratch::new();
    let o = s.ablate(&["slurm", "small.toml", "--tasks", "4", "--dry-run"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let scripts = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "#SBATCH --array=0-3",
        "--open-mode=append",
        "prepare",
        "--shard auto",
        "merge",
    ] {
        assert!(scripts.contains(needle), "{needle}: {scripts}");
    }
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("largest shard"), "{err}");
    assert!(!s.path("results").exists(), "a dry run writes nothing");
}

/// The GPU version of the array: GPUs asked for, the backend passed to every job, one cell at a time
/// per task; a build without the cuda feature writes the scripts for a dry run but refuses to submit.
#[test]
fn slurm_on_gpus_asks_for_them_and_passes_the_backend() {
    let s = Scratch::new();
    let o = s.ablate(&[
        "slurm",
        "small.toml",
        "--tasks",
        "2",
        "--backend",
        "cuda",
        "--gpus-per-task",
        "1",
        "--cpus-per-task",
        "8",
        "--dry-run",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let scripts = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "#SBATCH --gres=gpu:1",
        "#SBATCH --cpus-per-task=8",
        "--shard auto --jobs 1 --backend cuda",
    ] {
        assert!(scripts.contains(needle), "{needle}: {scripts}");
    }
    assert!(
        scripts
            .lines()
            .any(|l| l.contains(" prepare ") && l.ends_with("--backend cuda")),
        "{scripts}"
    );
    if !cfg!(feature = "cuda") {
        let o = s.ablate(&["slurm", "small.toml", "--tasks", "2", "--backend", "cuda"]);
        assert_eq!(o.status.code(), Some(1));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("--features cuda"), "{err}");
        assert!(!s.path("results").exists(), "nothing written");
    }
}
