//! Golden tests: this port against PyTorch's outputs in `../shared/fixtures/` (see its README).
//! The lite0 weights are installed by `scripts/assets.sh`, which the test script runs; a missing file
//! is a failure that says so, never a skip.

use std::path::{Path, PathBuf};

use ablate_backbone::{Arch, BackboneError, load};
use burn::tensor::{Device, Tensor, TensorData};
use safetensors::SafeTensors;

/// The package folder: the runtime `CARGO_MANIFEST_DIR` that `cargo test` sets, falling back to the
/// compile-time one. The compile-time value alone goes stale when two checkouts share a target dir
/// (cargo does not rebuild a test because its workspace moved).
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
}

fn repo_root() -> PathBuf {
    manifest_dir().join("../..")
}

fn fixtures() -> PathBuf {
    let dir = std::env::var_os("ABLATE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/fixtures"));
    assert!(
        dir.join("fixtures.json").is_file(),
        "fixtures not found in {} (set ABLATE_FIXTURES)",
        dir.display()
    );
    dir
}

fn lite0_weights() -> PathBuf {
    let path = repo_root().join("assets/efficientnet-lite0-57934424.pth");
    assert!(
        path.is_file(),
        "{} is missing: run `bash scripts/assets.sh` (scripts/test.sh does)",
        path.display()
    );
    path
}

/// A tensor of the fixture file as (shape, values).
fn fixture_tensor(file: &Path, name: &str) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(file).unwrap();
    let tensors = SafeTensors::deserialize(&bytes).unwrap();
    let view = tensors.tensor(name).unwrap();
    let values = view
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    (view.shape().to_vec(), values)
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Runs the model on the fixture's input; returns (features, logits) and checks both within 1e-4.
fn check_parity(arch: &str, weights: &Path, fixture: &str) -> Vec<f32> {
    let device = Device::flex();
    let (model, report) = load(&Arch::from_name(arch).unwrap(), weights, &device).unwrap();
    assert!(report.has_classifier);
    let file = fixtures().join(fixture);
    let (shape, input) = fixture_tensor(&file, "input");
    let x = Tensor::<4>::from_data(
        TensorData::new(input, [shape[0], shape[1], shape[2], shape[3]]),
        &device,
    );
    let features = model.forward_features(x);
    let logits = model.forward_head(features.clone()).unwrap();
    let features = features.into_data().try_to_vec::<f32>().unwrap();
    let logits = logits.into_data().try_to_vec::<f32>().unwrap();
    let (_, want_features) = fixture_tensor(&file, "features");
    let (_, want_logits) = fixture_tensor(&file, "logits");
    let df = max_abs_diff(&features, &want_features);
    let dl = max_abs_diff(&logits, &want_logits);
    assert!(df < 1e-4, "{arch}: features differ from PyTorch by {df}");
    assert!(dl < 1e-4, "{arch}: logits differ from PyTorch by {dl}");
    logits
}

#[test]
fn b0_zip_pth_matches_pytorch() {
    check_parity(
        "efficientnet-b0",
        &fixtures().join("b0-random.pth"),
        "b0-random.safetensors",
    );
}

#[test]
fn lite0_legacy_pth_matches_pytorch_and_sees_a_daisy() {
    let logits = check_parity(
        "efficientnet-lite0",
        &lite0_weights(),
        "lite0-flower.safetensors",
    );
    let top1 = logits
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0;
    assert_eq!(top1, 985, "ImageNet class 985 is daisy");
}

#[test]
fn bad_weight_files_name_the_culprit() {
    let device = Device::flex();
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    let b0 = fixtures().join("b0-random.pth");
    let bytes = std::fs::read(&b0).unwrap();
    let truncated = dir.join("truncated.pth");
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();

    let cases: Vec<(&str, PathBuf, &[&str])> = vec![
        ("efficientnet-b0", truncated, &["truncated.pth"]),
        ("efficientnet-b0", dir.join("absent.pth"), &["absent.pth"]),
        // b0 weights into lite0: lite0 has no squeeze-excitation, so those tensors have no place.
        (
            "efficientnet-lite0",
            b0.clone(),
            &["b0-random.pth", "efficientnet-lite0", "se_reduce"],
        ),
        // b0 weights into b1: b1 has more blocks than the file.
        (
            "efficientnet-b1",
            b0,
            &["b0-random.pth", "missing", "blocks.16"],
        ),
    ];
    for (arch, path, needles) in cases {
        let err = load(&Arch::from_name(arch).unwrap(), &path, &device).unwrap_err();
        let text = err.to_string();
        assert!(matches!(
            err,
            BackboneError::Read { .. } | BackboneError::Mismatch { .. }
        ));
        for needle in needles {
            assert!(
                text.contains(needle),
                "{arch} {}: {text:?} lacks {needle:?}",
                path.display()
            );
        }
    }
}

/// What the fine-tuning cells start from: an instance of the weights read once is the file's,
/// float for float, and owns its BatchNorm statistics (recomputing one instance's leaves the next
/// instance as the file has it).
#[test]
fn a_pretrained_instance_is_the_file_and_shares_no_state() {
    use burn::module::Module;
    let device = Device::flex();
    let train_device = device.clone().autodiff();
    let arch = Arch::from_name("efficientnet-lite0").unwrap();
    let (from_file, _) = load(&arch, &lite0_weights(), &device).unwrap();
    let pretrained = ablate_backbone::Pretrained::load(&arch, &lite0_weights()).unwrap();
    let x = |device: &Device| {
        let values: Vec<f32> = (0..4 * 3 * 32 * 32)
            .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
            .collect();
        Tensor::<4>::from_data(TensorData::new(values, [4, 3, 32, 32]), device)
    };
    // Eval-mode features, which read the running statistics.
    let features = |m: &ablate_backbone::EfficientNet| {
        m.valid()
            .forward_features(x(&device))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()
    };
    let want = features(&from_file);
    let first = pretrained.instance(&train_device).unwrap();
    assert!(first.fc.is_none(), "the ImageNet classifier is left out");
    assert_eq!(features(&first), want, "bit for bit the file's");
    let moved = first.recompute_batch_norm_stats([x(&train_device)]);
    assert_ne!(features(&moved), want, "the statistics moved");
    let second = pretrained.instance(&train_device).unwrap();
    assert_eq!(features(&second), want, "untouched by the first instance");
}
