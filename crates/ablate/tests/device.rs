//! The device path, on burn's wgpu backend (a Vulkan device: Mesa's software lavapipe on a machine
//! without a GPU, as in CI). It shares burn's cubecl runtime, fusion and kernels with cuda, so it
//! runs what a GPU runs: lazy execution, device memory, burn's Adam instead of the host's fused one,
//! uncut products, whole batches through the backbone, other reduction orders. By default a
//! device run stacks every head (`ablate_heads::stacking_pays`), flex only the linear probes, so
//! the grid below holds the stacked device path (its tensor-form Adam included) to the agreement
//! rule.
//!
//! The agreement test, stated: the same grid on the same features (8 head variants of model1 and
//! model2, 2 sizes, 3 seeds, 5 epochs; every cell with the same initial weights, batches and
//! dropout draws on both backends) trained on flex and on wgpu.
//! - Per cell, the first epoch's mean training loss agrees to 1e-4 relative: the two backends
//!   compute the same function; only the rounding differs.
//! - Per variant, the wgpu - flex differences in test accuracy over its 6 cells (paired: same cell)
//!   have a 95% t-interval within ±2.5 points (one test image of 160 is 0.625), and their mean is
//!   smaller than the seed-to-seed spread of that variant on flex (or both are zero): the backend
//!   moves results less than the seed does, so a verdict cannot hinge on it.
//! - Claim A (a bias right before BN is useless) is supported on wgpu, by the report's own test.

use crate::features::{experiment, fixture_weights, idx_scratch};
use crate::util::{EXPERIMENT, Scratch, csv_without};

const CLAIM_A: &str = r#"
[[claims]]
id = "A"
says = "a bias right before BN is useless"
a = { head = "mlp", bias_before_bn = true, relu = false }
b = { head = "mlp", bias_before_bn = false, relu = false }
expect = "identical"
"#;

/// Rows of a results CSV keyed by their first columns (`cell_id`, and `epoch` for epochs.csv).
fn column_of(table: &[Vec<String>], name: &str) -> usize {
    table[0]
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

/// Student's t quantile for a two-sided 95% interval with 5 degrees of freedom.
const T_975_DF5: f64 = 2.570_582;

#[test]
fn a_wgpu_grid_agrees_with_flex_and_supports_claim_a() {
    let s = Scratch::new();
    let grid = format!(
        "{}{CLAIM_A}",
        EXPERIMENT
            .replace("epochs = 3", "epochs = 5")
            .replace("seeds = [0, 1]", "seeds = [0, 1, 2]")
    );
    s.write("small.toml", &grid);
    for backend in ["flex", "wgpu"] {
        let o = s.ablate(&[
            "run",
            "small.toml",
            "--out",
            backend,
            "--backend",
            backend,
            "--report",
            &format!("report-{backend}"),
        ]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{backend}: {stderr}");
        assert!(stderr.contains("claim A: supported"), "{backend}: {stderr}");
    }
    let runs = |backend: &str| csv_without(&s.path(&format!("{backend}/small/runs.csv")), &[]);
    let (flex, wgpu) = (runs("flex"), runs("wgpu"));
    assert_eq!(flex.len(), 1 + 9 * 2 * 3, "9 variants, 2 sizes, 3 seeds");
    let col = |name: &str| column_of(&flex, name);
    assert_eq!(column_of(&wgpu, "test_acc"), col("test_acc"));
    for (f, w) in flex[1..].iter().zip(&wgpu[1..]) {
        assert_eq!(
            f[col("cell_id")],
            w[col("cell_id")],
            "the same cells in order"
        );
        assert_eq!(
            (f[col("backend")].as_str(), w[col("backend")].as_str()),
            ("flex", "wgpu")
        );
    }

    // The first epoch: the same function, rounded differently.
    let epochs = |backend: &str| csv_without(&s.path(&format!("{backend}/small/epochs.csv")), &[]);
    let (flex_epochs, wgpu_epochs) = (epochs("flex"), epochs("wgpu"));
    let (epoch, loss) = (
        column_of(&flex_epochs, "epoch"),
        column_of(&flex_epochs, "train_loss"),
    );
    let mut first_epochs = 0;
    for (f, w) in flex_epochs[1..].iter().zip(&wgpu_epochs[1..]) {
        assert_eq!((&f[0], &f[epoch]), (&w[0], &w[epoch]));
        if f[epoch] == "1" {
            let (a, b): (f64, f64) = (f[loss].parse().unwrap(), w[loss].parse().unwrap());
            assert!(
                ((a - b) / a).abs() < 1e-4,
                "{}: first-epoch training loss {a} on flex, {b} on wgpu",
                f[0]
            );
            first_epochs += 1;
        }
    }
    assert_eq!(first_epochs, 9 * 2 * 3);

    // Per variant: paired differences over its cells, against the seed-to-seed spread.
    let acc = |row: &Vec<String>| row[col("test_acc")].parse::<f64>().unwrap();
    let mut variants: Vec<&str> = flex[1..]
        .iter()
        .map(|r| r[col("variant")].as_str())
        .collect();
    variants.sort();
    variants.dedup();
    assert_eq!(variants.len(), 9);
    let mut report = Vec::new();
    for variant in variants {
        // (size, flex, wgpu) of each of the variant's cells.
        let pairs: Vec<(&str, f64, f64)> = flex[1..]
            .iter()
            .zip(&wgpu[1..])
            .filter(|(f, _)| f[col("variant")] == variant)
            .map(|(f, w)| (f[col("train_per_class")].as_str(), acc(f), acc(w)))
            .collect();
        assert_eq!(pairs.len(), 6, "{variant}");
        let d: Vec<f64> = pairs.iter().map(|(_, f, w)| w - f).collect();
        let mean = d.iter().sum::<f64>() / 6.0;
        let sd = (d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 5.0).sqrt();
        let half = T_975_DF5 * sd / 6f64.sqrt();
        // The spread between seeds on flex: the sd over the 3 seeds within each size, pooled (4
        // degrees of freedom).
        let seed_sd = {
            let squares: f64 = ["20", "60"]
                .iter()
                .map(|size| {
                    let seeds: Vec<f64> = pairs
                        .iter()
                        .filter(|(s, ..)| s == size)
                        .map(|(_, f, _)| *f)
                        .collect();
                    assert_eq!(seeds.len(), 3, "{variant} at {size}/class");
                    let m = seeds.iter().sum::<f64>() / 3.0;
                    seeds.iter().map(|x| (x - m).powi(2)).sum::<f64>()
                })
                .sum();
            (squares / 4.0).sqrt()
        };
        report.push(format!(
            "{variant}: wgpu - flex {:+.2} pp (95% CI {:+.2} to {:+.2}), seed sd {:.2} pp",
            100.0 * mean,
            100.0 * (mean - half),
            100.0 * (mean + half),
            100.0 * seed_sd
        ));
        assert!(
            (mean - half).abs() <= 0.025 && (mean + half).abs() <= 0.025,
            "{}",
            report.join("\n")
        );
        assert!(mean.abs() < seed_sd || mean == 0.0, "{}", report.join("\n"));
    }
    eprintln!("{}", report.join("\n"));

    // One results folder, one backend: adding wgpu cells to flex's folder is refused, naming both,
    // and the refused run leaves every file of the folder as it was.
    let before = files_under(&s.path("flex"));
    let o = s.ablate(&["run", "small.toml", "--out", "flex", "--backend", "wgpu"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("flex backend") && err.contains("this run is on wgpu"),
        "{err}"
    );
    assert!(
        files_under(&s.path("flex")) == before,
        "the refused run changed flex/"
    );

    // run-info names the device the wgpu cells ran on.
    let info = std::fs::read_dir(s.path("wgpu/small/run-info"))
        .unwrap()
        .next()
        .expect("a run-info file")
        .unwrap()
        .path();
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&info).unwrap()).unwrap();
    assert_eq!(info["backend"], "wgpu");
    assert!(
        info["device"].as_str().is_some_and(|d| !d.is_empty()),
        "{info}"
    );
}

/// One fine-tuning cell (b0 with SE and swish, from the fixture's random weights; model1's head) on
/// wgpu: it runs to its last epoch with finite losses, BatchNorm statistics recomputed on the
/// training images before each evaluation (the default). Its 16 training images make one batch, so
/// the first epoch's loss is the loss of the first forward, before any update: flex's to rounding.
/// (Later epochs are not compared: Adam's first step moves every weight by the learning rate in the
/// direction of its gradient's sign, and the signs of near-zero gradients are rounding.)
#[test]
fn a_finetuning_cell_runs_to_the_end_on_wgpu() {
    let s = idx_scratch();
    let text = experiment(&fixture_weights())
        .replace("head = [\"mlp\", \"linear\"]", "head = [\"mlp\"]")
        .replace("bias_before_bn = [true, false]", "bias_before_bn = [true]")
        .replace("relu = [true]", "relu = [true]\nbackbone = [\"finetune\"]\nseeds = [0]")
        .replace("train_per_class = [4, 8]", "train_per_class = [8]")
        .replace("batch_size = 4\n", "batch_size = 16\n")
        .replace(
            "[grid]",
            "[finetune]\nbackbone_lr = 1e-3\nfreeze_stages = 2\neval_bn_stats = \"recomputed\"\n[grid]",
        );
    s.write("images.toml", &text);
    for backend in ["flex", "wgpu"] {
        let o = s.ablate(&[
            "run",
            "images.toml",
            "--no-report",
            "--out",
            backend,
            "--backend",
            backend,
        ]);
        assert!(
            o.status.success(),
            "{backend}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // Refused for its backend, a wgpu run into flex's folder writes nothing there: here each backend
    // has its own features file, which the folder's manifest names, so a late refusal would show.
    let before = files_under(&s.path("flex"));
    let o = s.ablate(&[
        "run",
        "images.toml",
        "--no-report",
        "--out",
        "flex",
        "--backend",
        "wgpu",
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        files_under(&s.path("flex")) == before,
        "the refused run changed flex/"
    );

    let epochs = |backend: &str| csv_without(&s.path(&format!("{backend}/images/epochs.csv")), &[]);
    let (flex, wgpu) = (epochs("flex"), epochs("wgpu"));
    assert_eq!(wgpu.len(), 1 + 2, "one cell, 2 epochs");
    let (loss, val_loss) = (column_of(&wgpu, "train_loss"), column_of(&wgpu, "val_loss"));
    for row in &wgpu[1..] {
        for c in [loss, val_loss] {
            let v: f64 = row[c].parse().unwrap();
            assert!(v.is_finite() && v > 0.0, "{row:?}");
        }
    }
    let (a, b): (f64, f64) = (
        flex[1][loss].parse().unwrap(),
        wgpu[1][loss].parse().unwrap(),
    );
    assert!(
        ((a - b) / a).abs() < 1e-4,
        "first-step loss {a} on flex, {b} on wgpu"
    );
    // Each backend extracted (and caches) the frozen features under a name of its own.
    let cached: Vec<String> = std::fs::read_dir(s.path("assets/features"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(cached.len(), 2, "{cached:?}");
    let on_wgpu = cached
        .iter()
        .filter(|name| name.ends_with("-wgpu.safetensors"))
        .count();
    assert_eq!(on_wgpu, 1, "{cached:?}");
    let runs = csv_without(&s.path("wgpu/images/runs.csv"), &[]);
    let acc: f64 = runs[1][column_of(&runs, "test_acc")].parse().unwrap();
    assert!((0.0..=1.0).contains(&acc), "{acc}");
    assert!(runs[1][column_of(&runs, "cell_id")].contains("-ft-"));
}

/// Every file under `dir` (recursively) with its bytes, in path order.
fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                files.push((path, bytes));
            }
        }
    }
    files.sort();
    assert!(!files.is_empty(), "no files under {}", dir.display());
    files
}
