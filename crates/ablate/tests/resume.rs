//! A run killed with SIGKILL mid-grid and run again ends with the tables an uninterrupted run writes.

use std::time::{Duration, Instant};

use crate::util::{Scratch, csv_without};

fn finished_cells(s: &Scratch, out: &str) -> usize {
    std::fs::read_dir(s.path(out).join("small/cells"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    let name = e.file_name().to_string_lossy().to_string();
                    name.ends_with(".json") && !name.starts_with('.')
                })
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn kill_9_then_rerun_gives_the_uninterrupted_tables() {
    let s = Scratch::new();
    // A slower grid, so that the kill lands mid-run.
    s.write(
        "small.toml",
        &crate::util::EXPERIMENT.replace("epochs = 3", "epochs = 12"),
    );

    let mut child = s
        .command(&["run", "small.toml", "--out", "killed", "--jobs", "1"])
        .spawn()
        .unwrap();
    let started = Instant::now();
    while finished_cells(&s, "killed") < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no cell finished in time"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let done_at_kill = finished_cells(&s, "killed");
    assert!(done_at_kill < 36, "the kill landed after the grid finished");
    assert!(!s.path("killed/small/runs.csv").exists());

    let o = s.ablate(&["run", "small.toml", "--out", "killed"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(
        log.contains(&format!("{done_at_kill} done before")),
        "{log}"
    );

    let o = s.ablate(&["run", "small.toml", "--out", "clean"]);
    assert!(o.status.success());
    let killed = csv_without(&s.path("killed/small/runs.csv"), &["seconds"]);
    assert_eq!(
        killed,
        csv_without(&s.path("clean/small/runs.csv"), &["seconds"])
    );
    assert_eq!(
        s.read("killed/small/epochs.csv"),
        s.read("clean/small/epochs.csv")
    );
    let mut ids: Vec<&String> = killed[1..].iter().map(|r| &r[0]).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 36, "every cell once");

    // A third run has nothing left to do and leaves the tables as they were.
    let before = s.read("killed/small/runs.csv");
    let o = s.ablate(&["run", "small.toml", "--out", "killed"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("36 done before, 0 trained now"));
    assert_eq!(before, s.read("killed/small/runs.csv"));
}
