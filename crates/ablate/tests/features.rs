//! Images to features to results: a tiny IDX dataset through the b0 fixture weights, extracted once.

use std::path::{Path, PathBuf};

use crate::util::{Scratch, csv_without};

/// The package folder: the runtime `CARGO_MANIFEST_DIR` that `cargo test` sets, falling back to the
/// compile-time one. The compile-time value alone goes stale when two checkouts share a target dir
/// (cargo does not rebuild a test because its workspace moved).
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
}

pub(crate) fn fixture_weights() -> PathBuf {
    let dir = std::env::var_os("ABLATE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join("../../../shared/fixtures"));
    let path = dir.join("b0-random.pth");
    assert!(
        path.is_file(),
        "{} is missing (set ABLATE_FIXTURES)",
        path.display()
    );
    path
}

/// `n` 8x8 grayscale images with labels `i % 3`; each image is a gradient whose slope depends on its
/// label, so the classes differ.
fn write_idx(dir: &Path, prefix: &str, n: usize) {
    let mut images = vec![0, 0, 8, 3];
    for v in [n as u32, 8, 8] {
        images.extend_from_slice(&v.to_be_bytes());
    }
    for i in 0..n {
        let label = i % 3;
        images.extend((0..64).map(|p| ((p * (label + 1) * 3 + i) % 256) as u8));
    }
    let mut labels = vec![0, 0, 8, 1];
    labels.extend_from_slice(&(n as u32).to_be_bytes());
    labels.extend((0..n).map(|i| (i % 3) as u8));
    std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), images).unwrap();
    std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), labels).unwrap();
}

/// A scratch folder with a 3-label IDX dataset in `idx/` (30 train, 15 t10k images).
pub(crate) fn idx_scratch() -> Scratch {
    let s = Scratch::new();
    std::fs::create_dir_all(s.path("idx")).unwrap();
    write_idx(&s.path("idx"), "train", 30);
    write_idx(&s.path("idx"), "t10k", 15);
    s
}

pub(crate) fn experiment(weights: &Path) -> String {
    format!(
        r#"
name = "images"
[data]
kind = "idx"
path = "idx"
classes = [2, 0]
class_names = ["two", "zero"]
train_pool_per_class = 8
val_per_class = 4
test_per_class = 1
[backbone]
arch = "efficientnet-b0"
weights = {weights:?}
image_size = 32
batch_size = 5
[train]
epochs = 2
batch_size = 4
hidden = 16
[grid]
head = ["mlp", "linear"]
bias_before_bn = [true, false]
relu = [true]
train_per_class = [4, 8]
"#,
        weights = weights.display().to_string()
    )
}

#[test]
fn features_are_extracted_once_then_reused_and_recorded() {
    let s = idx_scratch();
    s.write("images.toml", &experiment(&fixture_weights()));

    let o = s.ablate(&["features", "images.toml"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let path = String::from_utf8(o.stdout).unwrap().trim().to_string();
    assert!(
        path.starts_with("assets/features/efficientnet-b0-"),
        "{path}"
    );
    assert!(
        err.contains("16 train + 8 val + 2 test images at 32 px"),
        "{err}"
    );
    let first = std::fs::read(s.path(&path)).unwrap();

    // Extracting the same images again gives the same bytes, so `features_sha256` is reproducible.
    let o = s.ablate(&["features", "images.toml", "--out", "again.safetensors"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(s.path("again.safetensors")).unwrap(), first);

    let o = s.ablate(&["features", "images.toml"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("reusing"),
        "second call reuses the cache"
    );

    // Another image size is another key: a second file, not an overwrite.
    s.write(
        "images.toml",
        &experiment(&fixture_weights()).replace("image_size = 32", "image_size = 40"),
    );
    let o = s.ablate(&["features", "images.toml"]);
    let other = String::from_utf8(o.stdout).unwrap().trim().to_string();
    assert_ne!(other, path);
    assert_eq!(std::fs::read(s.path(&path)).unwrap(), first);

    s.write("images.toml", &experiment(&fixture_weights()));
    let o = s.ablate(&["run", "images.toml", "--out", "r"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let runs = csv_without(&s.path("r/images/runs.csv"), &[]);
    let column = |name: &str| runs[0].iter().position(|h| h == name).unwrap();
    assert_eq!(
        runs.len(),
        1 + 2 * (2 + 1),
        "2 mlp variants + linear, 2 sizes, 1 seed"
    );
    let weights_sha = runs[1][column("backbone_sha256")].clone();
    assert_eq!(
        weights_sha, "09586bd2e8b0fb96a42f809962f4ce01c7b49dba7de168b9ff1418e8e32cfbe1",
        "the fixtures' sha256 of b0-random.pth"
    );
    assert_eq!(runs[1][column("dataset_sha256")].len(), 64);
    use sha2::Digest;
    assert_eq!(
        runs[1][column("features_sha256")],
        hex::encode(sha2::Sha256::digest(&first))
    );
    // Two test images: accuracy 0, 0.5 or 1.
    for row in &runs[1..] {
        let acc: f64 = row[column("test_acc")].parse().unwrap();
        assert!([0.0, 0.5, 1.0].contains(&acc), "{acc}");
    }

    // t10k holds 5 images per label: 4 for val leave 1, fewer than 2 for test.
    s.write(
        "images.toml",
        &experiment(&fixture_weights()).replace("test_per_class = 1", "test_per_class = 2"),
    );
    let o = s.ablate(&["features", "images.toml"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("t10k-labels-idx1-ubyte")
            && err.contains("left after the 4 taken by `data.val_per_class`")
            && err.contains("`data.test_per_class`")
            && err.lines().count() == 1,
        "{err}"
    );
}

#[test]
fn wrong_weights_for_the_arch_fail_naming_them() {
    let s = idx_scratch();
    s.write(
        "images.toml",
        &experiment(&fixture_weights()).replace("efficientnet-b0", "efficientnet-lite0"),
    );
    let o = s.ablate(&["features", "images.toml"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("b0-random.pth") && err.contains("efficientnet-lite0"),
        "{err}"
    );
    assert!(
        !s.path("assets/features").exists()
            || std::fs::read_dir(s.path("assets/features"))
                .unwrap()
                .next()
                .is_none()
    );
}

/// `ablate backbone top5` on the fixture's photo with the real lite0 weights: a daisy, as in PyTorch.
#[test]
fn top5_names_the_daisy() {
    let root = manifest_dir().join("../..");
    let weights = root.join("assets/efficientnet-lite0-57934424.pth");
    let flower = root.join("assets/flower.jpg");
    assert!(
        weights.is_file() && flower.is_file(),
        "assets missing: run `bash scripts/assets.sh` (scripts/test.sh does)"
    );
    let s = Scratch::new();
    let o = s.ablate(&[
        "backbone",
        "top5",
        "--arch",
        "efficientnet-lite0",
        "--weights",
        &weights.display().to_string(),
        &flower.display().to_string(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");
    assert!(
        lines[1].trim_start().starts_with("985") && lines[1].ends_with("daisy"),
        "{out}"
    );
}

/// The regime as a grid axis: frozen and fine-tuned cells of one experiment (b0, SE and swish, from
/// the random fixture weights), in one results table, the fine-tuned ones named `-ft` and recorded
/// with their regime; a second run trains nothing.
#[test]
fn finetuning_cells_run_beside_frozen_ones() {
    let s = idx_scratch();
    let text = experiment(&fixture_weights())
        .replace(
            "relu = [true]",
            "relu = [true]\nbackbone = [\"frozen\", \"finetune\"]\nseeds = [0]",
        )
        .replace(
            "[grid]",
            "[finetune]\nbackbone_lr = 1e-3\nfreeze_stages = 2\n[grid]",
        );
    s.write("images.toml", &text);
    let out = s.ablate(&["run", "images.toml", "--no-report"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs = s.read("results/images/runs.csv");
    let header: Vec<&str> = runs.lines().next().unwrap().split(',').collect();
    let col = header
        .iter()
        .position(|h| *h == "backbone")
        .expect("a backbone column");
    let id = header.iter().position(|h| *h == "cell_id").unwrap();
    let rows: Vec<Vec<&str>> = runs
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 3 * 2 * 2, "3 heads x 2 regimes x 2 sizes");
    for row in &rows {
        let finetuned = row[id].contains("-ft-");
        assert_eq!(
            row[col],
            if finetuned { "finetune" } else { "frozen" },
            "{}",
            row[id]
        );
    }
    assert_eq!(rows.iter().filter(|r| r[id].contains("-ft-")).count(), 6);

    let again = s.ablate(&["run", "images.toml", "--no-report"]);
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("12 done before, 0 trained now"), "{err}");
}

/// `--restart` after a config change never resumes a fine-tuning checkpoint of the old config: a
/// cell killed mid-training under `backbone_lr = 1e-2`, rerun with `--restart` under `1e-3`, ends
/// with exactly the numbers of an uninterrupted run under `1e-3` (it trained from the pretrained
/// weights, not from the stale epochs).
#[test]
fn restart_after_a_config_change_trains_finetuning_cells_afresh() {
    let s = idx_scratch();
    let with_lr = |lr: &str| {
        experiment(&fixture_weights())
            .replace("epochs = 2", "epochs = 40")
            .replace("head = [\"mlp\", \"linear\"]", "head = [\"linear\"]")
            // The linear head has no Linear before a BN: an axis for it would be refused.
            .replace("bias_before_bn = [true, false]\n", "")
            .replace("relu = [true]", "backbone = [\"finetune\"]\nseeds = [0]")
            .replace("train_per_class = [4, 8]", "train_per_class = [8]")
            .replace(
                "[grid]",
                &format!("[finetune]\nbackbone_lr = {lr}\nfreeze_stages = 2\n[grid]"),
            )
    };
    s.write("old.toml", &with_lr("1e-2"));
    let checkpoints = s.path("results/images/checkpoints");
    let has_progress = || {
        std::fs::read_dir(&checkpoints).is_ok_and(|cells| {
            cells
                .filter_map(Result::ok)
                .any(|cell| cell.path().join("progress.json").is_file())
        })
    };
    let mut child = s
        .command(&["run", "old.toml", "--no-report", "--jobs", "1"])
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !has_progress() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(300),
            "no epoch checkpointed in time"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL, after at least one epoch's checkpoint
    child.wait().unwrap();
    assert!(
        !s.path("results/images/runs.csv").exists(),
        "the kill landed after the grid finished"
    );

    s.write("new.toml", &with_lr("1e-3"));
    let o = s.ablate(&["run", "new.toml", "--no-report", "--restart"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = s.ablate(&["run", "new.toml", "--no-report", "--out", "clean"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        csv_without(&s.path("results/images/runs.csv"), &["seconds"]),
        csv_without(&s.path("clean/images/runs.csv"), &["seconds"])
    );
    assert_eq!(
        s.read("results/images/epochs.csv"),
        s.read("clean/images/epochs.csv")
    );
    assert!(
        !checkpoints.exists() || std::fs::read_dir(&checkpoints).unwrap().next().is_none(),
        "the finished cell's checkpoint is removed"
    );
}

/// The cached cut (issue 35): fine-tuning the stages above a cut from the cache of what the frozen
/// stages give equals training the whole network with those stages frozen, bit for bit, on the b0
/// fixture (SE, swish, drop-connect on the residual blocks above the cut, both heads, both
/// BatchNorm modes, precise BN at every epoch). Exact because the frozen stages run as at inference
/// on the plain device in both (`EfficientNet::forward_features_train`), flex computes each image
/// alone whether a batch is split or whole, and the trained top is one code path
/// (`forward_top`). A cache of another cut is another file; a stale file at the expected path
/// is refused, never trained on.
#[test]
fn fine_tuning_from_a_cut_cache_equals_the_whole_network_with_frozen_stages() {
    let s = idx_scratch();
    let with = |cut_cache: bool, stages: usize| {
        experiment(&fixture_weights())
            .replace(
                "relu = [true]",
                "relu = [true]\nbackbone = [\"finetune\"]\nbackbone_bn = [\"batch\", \"running\"]\ndropout = [0.5]\ninput_dropout = [0.2]\nepochs = [1, 2]\nseeds = [0, 1]",
            )
            .replace("train_per_class = [4, 8]", "train_per_class = [8]")
            .replace(
                "[grid]",
                &format!(
                    "[finetune]\nbackbone_lr = 1e-3\ndrop_connect = 0.5\nfreeze_stages = {stages}\ncut_cache = {cut_cache}\n[grid]"
                ),
            )
    };
    let run = |name: &str, text: &str| {
        s.write(
            &format!("{name}.toml"),
            &text.replace("name = \"images\"", &format!("name = \"{name}\"")),
        );
        let out = s.ablate(&["run", &format!("{name}.toml"), "--no-report"]);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{err}");
        err
    };
    run("whole", &with(false, 5));
    let err = run("cut", &with(true, 5));
    assert!(err.contains("cut cache (the input of stage 5)"), "{err}");
    assert!(
        !s.path("results/cut/checkpoints").exists()
            || std::fs::read_dir(s.path("results/cut/checkpoints"))
                .unwrap()
                .next()
                .is_none(),
        "no checkpoint left once every cell is recorded"
    );
    // The runs differ in their config (cut_cache), so in config_hash; and in time.
    let drop = ["seconds", "config_hash"];
    let whole = csv_without(&s.path("results/whole/runs.csv"), &drop);
    let cut = csv_without(&s.path("results/cut/runs.csv"), &drop);
    // The cut run trains each cell's 1 epoch as the first of its 2-epoch twin; the whole network
    // trains each alone: the same numbers.
    assert_eq!(
        whole.len(),
        1 + 3 * 2 * 2 * 2,
        "3 heads x 2 BN modes x 2 epochs x 2 seeds"
    );
    assert_eq!(whole, cut, "runs.csv");
    assert_eq!(
        s.read("results/whole/epochs.csv"),
        s.read("results/cut/epochs.csv")
    );
    // A grid that lost cells (one a shorter epoch count, one a longest) retrains them, alone
    // or as the first epochs of a run, to the same records.
    for id in [
        "linear-last1-in0.2-ep1-ft-n8-s1",
        "mlp-bias0-relu1-drop0.5-last1-in0.2-ep2-ft-bnrun-n8-s0",
    ] {
        std::fs::remove_file(s.path(&format!("results/cut/cells/{id}.json")))
            .unwrap_or_else(|e| panic!("{id}: {e}"));
    }
    let err = run("cut", &with(true, 5));
    assert!(err.contains("22 done before, 2 trained now"), "{err}");
    assert_eq!(csv_without(&s.path("results/cut/runs.csv"), &drop), whole);
    // The BN modes differ (the switch reaches training), and seeds differ.
    let val = whole[0].iter().position(|h| h == "val_loss").unwrap();
    let losses: std::collections::BTreeSet<&str> =
        whole[1..].iter().map(|r| r[val].as_str()).collect();
    assert_eq!(losses.len(), whole.len() - 1, "every cell its own val loss");

    // Another cut is another cache file.
    let caches = || {
        std::fs::read_dir(s.path("assets/features"))
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| n.contains("-cut"))
            .collect::<Vec<_>>()
    };
    assert_eq!(caches().len(), 1, "{:?}", caches());
    run("cut4", &with(true, 4));
    let mut files = caches();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    // A stale file where the stage-4 cache belongs (here: the stage-5 cache copied over it) is
    // refused, naming the file and both keys.
    let (four, five): (Vec<&String>, Vec<&String>) = files.iter().partition(|f| f.contains("cut4"));
    std::fs::copy(
        s.path(&format!("assets/features/{}", five[0])),
        s.path(&format!("assets/features/{}", four[0])),
    )
    .unwrap();
    s.write(
        "stale.toml",
        &with(true, 4).replace("name = \"images\"", "name = \"stale\""),
    );
    let out = s.ablate(&["run", "stale.toml", "--no-report"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a stale cut cache was trained on");
    assert!(
        err.contains(four[0].as_str()) && err.contains("cache key"),
        "{err}"
    );
    assert!(
        !s.path("results/stale/runs.csv").exists(),
        "nothing written from a stale cache"
    );
}
