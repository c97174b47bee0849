//! Bad input: exit code 1, one line naming the culprit, no panic, and the results already written
//! left exactly as they were.

use crate::util::{EXPERIMENT, Scratch};

#[test]
fn bad_inputs_fail_cleanly_and_leave_results_alone() {
    let s = Scratch::new();
    let o = s.ablate(&["run", "small.toml", "--out", "r"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let runs = s.read("r/small/runs.csv");
    let epochs = s.read("r/small/epochs.csv");
    let cells = std::fs::read_dir(s.path("r/small/cells")).unwrap().count();

    let good = std::fs::read(s.path("features.safetensors")).unwrap();
    std::fs::write(
        s.path("garbage.safetensors"),
        b"this is not a safetensors file at all",
    )
    .unwrap();
    std::fs::write(s.path("truncated.safetensors"), &good[..good.len() / 2]).unwrap();

    // (what the experiment file says, extra arguments, words the error must contain)
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "name = \"small\"\n[data",
            &[],
            &["bad.toml", "line 2", "unclosed table"],
        ),
        (
            &EXPERIMENT.replace("epochs = 3", "epochs = 3\nepoch = 4"),
            &[],
            &["bad.toml", "epoch", "line 8"],
        ),
        (
            &EXPERIMENT.replace("features.safetensors", "nope.safetensors"),
            &[],
            &["nope.safetensors"],
        ),
        (
            &EXPERIMENT.replace("features.safetensors", "garbage.safetensors"),
            &[],
            &["garbage.safetensors", "not a valid safetensors"],
        ),
        (
            &EXPERIMENT.replace("features.safetensors", "truncated.safetensors"),
            &[],
            &["truncated.safetensors"],
        ),
        (
            &EXPERIMENT.replace("dropout = [0.0, 0.5]", "dropout = [0.0, 1.5]"),
            &[],
            &["bad.toml", "grid.dropout"],
        ),
        (
            &EXPERIMENT.replace("train_per_class = [20, 60]", "train_per_class = [20, 500]"),
            &[],
            &["grid.train_per_class", "features.safetensors", "80"],
        ),
        (
            &EXPERIMENT.replace("batch_size = 32", "batch_size = 0"),
            &[],
            &["train.batch_size"],
        ),
        (
            &EXPERIMENT.replace("epochs = 3", "epochs = 4"),
            &[],
            &["r/small", "--restart"],
        ),
        (
            EXPERIMENT,
            &["--backend", "cuda"],
            &["cuda", "--features cuda"],
        ),
        (
            EXPERIMENT,
            &["--shard", "4/4"],
            &["--shard", "4/4", "out of range"],
        ),
        (
            EXPERIMENT,
            &["--shard", "x"],
            &["--shard", "\"x\"", "expected K/N"],
        ),
        (EXPERIMENT, &["--shard", "auto"], &["SLURM_ARRAY_TASK_ID"]),
        (
            EXPERIMENT,
            &["--shard", "0/2", "--restart"],
            &["--restart", "--shard"],
        ),
    ];
    for (text, extra, needles) in cases {
        s.write("bad.toml", text);
        let mut args = vec!["run", "bad.toml", "--out", "r"];
        args.extend_from_slice(extra);
        let o = s
            .command(&args)
            .env_remove("SLURM_ARRAY_TASK_ID")
            .env_remove("JOB_COMPLETION_INDEX")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{text}\n{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(err.starts_with("error: "), "{err}");
        for needle in *needles {
            assert!(err.contains(needle), "{err:?} lacks {needle:?}");
        }
        assert_eq!(s.read("r/small/runs.csv"), runs, "after {err}");
        assert_eq!(s.read("r/small/epochs.csv"), epochs);
        assert_eq!(
            std::fs::read_dir(s.path("r/small/cells")).unwrap().count(),
            cells
        );
    }

    let o = s.ablate(&["run", "missing.toml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing.toml"));
}

#[test]
fn restart_discards_the_old_config_results() {
    let s = Scratch::new();
    assert!(
        s.ablate(&["run", "small.toml", "--out", "r"])
            .status
            .success()
    );
    s.write(
        "small.toml",
        &EXPERIMENT.replace("seeds = [0, 1]", "seeds = [5]"),
    );
    let o = s.ablate(&["run", "small.toml", "--out", "r", "--restart"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let runs = s.read("r/small/runs.csv");
    assert_eq!(runs.lines().count(), 1 + 18);
    assert!(runs.lines().skip(1).all(|l| l.contains("-s5,")));
}
