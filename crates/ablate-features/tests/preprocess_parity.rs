//! The whole image path on the fixture's photo: our decoding + resize + crop + normalization against the
//! input PyTorch was given (`../shared/fixtures/lite0-flower.safetensors`), and the real lite0 weights
//! on our input still see a daisy. Assets come from `scripts/assets.sh` (run by the test script).

use std::path::PathBuf;

use ablate_backbone::{Arch, load};
use ablate_images::{ImageSource, Preprocess};
use burn::tensor::{Device, Tensor, TensorData};

/// The package folder: the runtime `CARGO_MANIFEST_DIR` that `cargo test` sets, falling back to the
/// compile-time one. The compile-time value alone goes stale when two checkouts share a target dir
/// (cargo does not rebuild a test because its workspace moved).
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
}

fn repo(path: &str) -> PathBuf {
    let p = manifest_dir().join("../..").join(path);
    assert!(
        p.exists(),
        "{} is missing: run `bash scripts/assets.sh` (scripts/test.sh does)",
        p.display()
    );
    p
}

fn fixture_input() -> Vec<f32> {
    let dir = std::env::var_os("ABLATE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo("../shared/fixtures"));
    let bytes = std::fs::read(dir.join("lite0-flower.safetensors")).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let view = tensors.tensor("input").unwrap();
    assert_eq!(view.shape(), [1, 3, 224, 224]);
    view.data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

#[test]
fn our_preprocessing_of_the_flower_is_close_to_pils_and_still_a_daisy() {
    let ours = Preprocess::imagenet(224)
        .apply(&ImageSource::File(repo("assets/flower.jpg")))
        .unwrap();
    let theirs = fixture_input();
    let mean_abs = ours
        .iter()
        .zip(&theirs)
        .map(|(a, b)| (a - b).abs())
        .sum::<f32>()
        / ours.len() as f32;
    // JPEG decoders and bilinear resamplers (image-rs vs PIL) differ slightly at edges; measured here:
    // 0.0024 on average, a seventh of one grey level (1/255/0.225 = 0.017 in normalized units).
    assert!(mean_abs < 0.01, "mean |ours - PIL| = {mean_abs}");

    let device = Device::flex();
    let (model, _) = load(
        &Arch::from_name("efficientnet-lite0").unwrap(),
        &repo("assets/efficientnet-lite0-57934424.pth"),
        &device,
    )
    .unwrap();
    let x = Tensor::<4>::from_data(TensorData::new(ours, [1, 3, 224, 224]), &device);
    let logits: Vec<f32> = model
        .forward_head(model.forward_features(x))
        .unwrap()
        .into_data()
        .iter::<f32>()
        .collect();
    let top1 = (0..logits.len())
        .max_by(|&a, &b| logits[a].total_cmp(&logits[b]))
        .unwrap();
    assert_eq!(top1, 985, "daisy");
}
