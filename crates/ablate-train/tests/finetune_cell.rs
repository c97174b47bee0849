//! A whole fine-tuning cell, small: lite0 with the real weights at 32 px on a few images made here,
//! backbone and head trained together. Deterministic, measured like a frozen cell, and claim A's
//! bias gradient stays zero while the backbone trains.
//!
//! The lite0 weights are installed by `scripts/assets.sh`, which the test script runs; a missing file
//! is a failure that says so, never a skip.

use std::path::{Path, PathBuf};

use ablate_backbone::Arch;
use ablate_backbone::Pretrained;
use ablate_images::{ImageDataset, ImageSet, Preprocess};
use ablate_record::CheckpointDir;
use ablate_spec::{Cell, DataSpec, EvalBnStats, FinetuneSpec, HeadVariant, Switch, TrainSpec};
use ablate_train::{ImageBatches, PretrainedBackbone, Watch, train_finetune_cell};

/// The config hash the checkpoints below are written under.
const CONFIG: &str = "0123456789abcdef";
use burn::tensor::Device;

fn lite0() -> PretrainedBackbone {
    let dir: PathBuf = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
    let path = dir.join("../../assets/efficientnet-lite0-57934424.pth");
    assert!(
        path.is_file(),
        "{} is missing: run `bash scripts/assets.sh` (scripts/test.sh does)",
        path.display()
    );
    PretrainedBackbone {
        weights: Pretrained::load(&Arch::from_name("efficientnet-lite0").unwrap(), &path).unwrap(),
        eval_batch: 8,
    }
}

/// Two classes of 8x8 images a network can tell apart: dark stripes and light blotches.
fn image_folder(root: &Path) -> DataSpec {
    for (class, base) in [("dark", 40u8), ("light", 200u8)] {
        std::fs::create_dir_all(root.join(class)).unwrap();
        for i in 0..10u8 {
            let image = image::RgbImage::from_fn(8, 8, |x, y| {
                let v = base.wrapping_add(((x * 7 + y * 3) as u8).wrapping_mul(i + 1) % 50);
                image::Rgb([v, v / 2, 255 - v])
            });
            image
                .save(root.join(class).join(format!("{i}.png")))
                .unwrap();
        }
    }
    DataSpec::ImageFolder {
        root: root.to_owned(),
        val_fraction: Some(0.2),
        test_fraction: Some(0.2),
    }
}

/// The head's training for these tiny cells: batches of 4, a 32-wide hidden layer.
fn small_train(epochs: usize) -> TrainSpec {
    TrainSpec {
        epochs,
        batch_size: 4,
        hidden: 32,
        ..TrainSpec::default()
    }
}

/// [`image_folder`] under `root`, preprocessed at 32 px.
fn images_at_32px(root: &Path) -> ImageSet {
    let dataset = ImageDataset::open(&image_folder(root)).unwrap();
    ImageSet::preprocess(&dataset, &Preprocess::imagenet(32)).unwrap()
}

#[test]
fn a_finetuning_cell_is_deterministic_and_keeps_claim_a() {
    let dir = tempfile::tempdir().unwrap();
    let set = images_at_32px(&dir.path().join("images"));
    let device = Device::flex();
    let backbone = lite0();
    let train = small_train(2);
    let finetune = FinetuneSpec {
        freeze_stages: 1,
        ..FinetuneSpec::default()
    };
    // Claim A's model1 (bias before BN, no ReLU), with the backbone's dropout on the features.
    let head = HeadVariant::mlp()
        .flag(Switch::BiasBeforeBn, true)
        .flag(Switch::Relu, false)
        .number(Switch::InputDropout, 0.2);
    let cell = Cell {
        head,
        train_per_class: 5,
        seed: 3,
    };
    let run = || {
        let images = ImageBatches::new(&set, cell.train_per_class, cell.seed).unwrap();
        train_finetune_cell(
            &cell,
            &train,
            &finetune,
            &backbone,
            &images,
            &device,
            Watch::default(),
        )
        .unwrap()
    };
    let a = run();
    let b = run();
    assert_eq!(a.epochs, b.epochs, "same cell, same numbers");
    assert_eq!(
        (a.train_acc, a.val_acc, a.test_acc),
        (b.train_acc, b.val_acc, b.test_acc)
    );

    assert_eq!(a.epochs.len(), 2);
    assert_eq!(
        a.steps,
        2 * 3,
        "10 images in batches of 4: 3 steps per epoch"
    );
    for epoch in &a.epochs {
        assert!(epoch.train_loss.is_finite() && (0.0..=1.0).contains(&epoch.val_acc));
        let g = epoch.bias_grad_max.expect("model1 has a pre-BN bias");
        assert!(
            g < 1e-6,
            "epoch {}: pre-BN bias gradient {g:e}",
            epoch.epoch
        );
    }
    let test = a
        .test_predictions
        .as_ref()
        .expect("the dataset has a test split");
    assert_eq!(test.len(), set.test.as_ref().unwrap().y.len());
    assert!(
        a.bn_var_ratio.is_some(),
        "model1's BN, measured on fine-tuned features"
    );
}

/// Killed after an epoch, a fine-tuning cell resumes from its checkpoint and ends with exactly the
/// numbers of an uninterrupted run (weights, BatchNorm statistics, Adam's moments and step count
/// all restored; every draw keyed by epoch and step).
#[test]
fn an_interrupted_finetuning_cell_resumes_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let set = images_at_32px(&dir.path().join("images"));
    let device = Device::flex();
    let backbone = lite0();
    let finetune = FinetuneSpec {
        freeze_stages: 3,
        ..FinetuneSpec::default()
    };
    let cell = Cell {
        head: HeadVariant::mlp().number(Switch::Dropout, 0.5),
        train_per_class: 5,
        seed: 1,
    };
    let images = ImageBatches::new(&set, cell.train_per_class, cell.seed).unwrap();
    let train = small_train;
    let whole = train_finetune_cell(
        &cell,
        &train(3),
        &finetune,
        &backbone,
        &images,
        &device,
        Watch::default(),
    )
    .unwrap();

    // The same cell stopped after two epochs (as a kill after epoch 2's checkpoint leaves it)...
    let checkpoint = CheckpointDir::new(&dir.path().join("ckpt"), &cell.id(), CONFIG);
    let first = train_finetune_cell(
        &cell,
        &train(2),
        &finetune,
        &backbone,
        &images,
        &device,
        Watch::checkpoint(&checkpoint),
    )
    .unwrap();
    assert_eq!(first.epochs[..], whole.epochs[..2]);
    // ...then run again: only epoch 3 trains, and the progress it reports says so.
    let reported = std::sync::Mutex::new(Vec::new());
    let on_epoch = |done: &[ablate_record::EpochMetrics], all| {
        reported.lock().unwrap().push((done.len(), all))
    };
    let resumed = train_finetune_cell(
        &cell,
        &train(3),
        &finetune,
        &backbone,
        &images,
        &device,
        Watch {
            checkpoint: Some(&checkpoint),
            on_epoch: Some(&on_epoch),
        },
    )
    .unwrap();
    assert_eq!(reported.into_inner().unwrap(), [(2, 3), (3, 3)]);
    assert_eq!(resumed.epochs, whole.epochs);
    assert_eq!(resumed.steps, whole.steps);
    assert_eq!(
        (
            resumed.train_acc,
            resumed.val_acc,
            resumed.test_acc,
            resumed.bn_var_ratio
        ),
        (
            whole.train_acc,
            whole.val_acc,
            whole.test_acc,
            whole.bn_var_ratio
        )
    );
    assert_eq!(resumed.test_predictions, whole.test_predictions);

    // A checkpoint is one cell's: another cell refuses it, naming the folder.
    let other = Cell { seed: 2, ..cell };
    let err = train_finetune_cell(
        &other,
        &train(3),
        &finetune,
        &backbone,
        &images,
        &device,
        Watch::checkpoint(&CheckpointDir::new(
            &dir.path().join("ckpt"),
            &other.id(),
            CONFIG,
        )),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("ckpt") && err.contains(&cell.id()), "{err}");
}

/// Recomputing the backbone's BatchNorm statistics before each evaluation changes what is
/// measured, never how the cell trains: the epochs' training losses are equal to the bit, the
/// evaluations are not.
#[test]
fn recomputed_batch_norm_statistics_change_evaluations_only() {
    let dir = tempfile::tempdir().unwrap();
    let set = images_at_32px(&dir.path().join("images"));
    let device = Device::flex();
    let backbone = lite0();
    let train = small_train(2);
    let cell = Cell {
        head: HeadVariant::mlp(),
        train_per_class: 5,
        seed: 0,
    };
    let images = ImageBatches::new(&set, cell.train_per_class, cell.seed).unwrap();
    let run = |eval_bn_stats| {
        let finetune = FinetuneSpec {
            eval_bn_stats,
            ..FinetuneSpec::default()
        };
        train_finetune_cell(
            &cell,
            &train,
            &finetune,
            &backbone,
            &images,
            &device,
            Watch::default(),
        )
        .unwrap()
    };
    let (recomputed, running) = (run(EvalBnStats::Recomputed), run(EvalBnStats::Running));
    let losses = |o: &ablate_record::CellOutcome| -> Vec<f64> {
        o.epochs.iter().map(|e| e.train_loss).collect()
    };
    assert_eq!(losses(&recomputed), losses(&running));
    assert_eq!(recomputed.steps, running.steps);
    for (a, b) in recomputed.epochs.iter().zip(&running.epochs) {
        assert_ne!(a.val_loss, b.val_loss, "epoch {}", a.epoch);
    }
}

/// A checkpoint trained under another config (here a changed `[finetune] backbone_lr`) is never
/// resumed: it is removed, and the cell trains from the pretrained weights, ending with exactly the
/// numbers of an uninterrupted run under the new config.
#[test]
fn a_checkpoint_of_another_config_is_removed_not_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let set = images_at_32px(&dir.path().join("images"));
    let device = Device::flex();
    let backbone = lite0();
    let cell = Cell {
        head: HeadVariant::mlp(),
        train_per_class: 5,
        seed: 4,
    };
    let images = ImageBatches::new(&set, cell.train_per_class, cell.seed).unwrap();
    let train = small_train;
    let old = FinetuneSpec {
        freeze_stages: 3,
        backbone_lr: 1e-2,
        ..FinetuneSpec::default()
    };
    let new = FinetuneSpec {
        backbone_lr: 1e-5,
        ..old
    };
    let ckpt = dir.path().join("ckpt");
    // Interrupted after one epoch under the old config...
    let stale = CheckpointDir::new(&ckpt, &cell.id(), "old-config");
    let run = |spec: &FinetuneSpec, epochs, watch| {
        train_finetune_cell(
            &cell,
            &train(epochs),
            spec,
            &backbone,
            &images,
            &device,
            watch,
        )
        .unwrap()
    };
    let interrupted = run(&old, 1, Watch::checkpoint(&stale));
    assert!(ckpt.join("progress.json").is_file());
    // ...then run under the new one, as `--restart` or a shard of the new config would.
    let fresh = run(&new, 2, Watch::default());
    let current = CheckpointDir::new(&ckpt, &cell.id(), "new-config");
    let resumed = run(&new, 2, Watch::checkpoint(&current));
    assert_eq!(
        resumed.epochs, fresh.epochs,
        "trained from the pretrained weights"
    );
    assert_eq!(resumed.test_predictions, fresh.test_predictions);
    assert_ne!(
        resumed.epochs[0], interrupted.epochs[0],
        "the two configs train differently, so a resumed stale epoch would show"
    );
    // The new config's checkpoint replaced the stale one.
    let progress = std::fs::read_to_string(ckpt.join("progress.json")).unwrap();
    assert!(progress.contains("new-config"), "{progress}");

    // A progress file that is not one (another program's, an older format) is of no known
    // config either: removed, and the cell trains afresh.
    std::fs::write(ckpt.join("progress.json"), "not json").unwrap();
    let garbled = run(&new, 2, Watch::checkpoint(&current));
    assert_eq!(garbled.epochs, fresh.epochs);
}
