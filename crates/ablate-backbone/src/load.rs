//! Strict loading of PyTorch weight files (legacy and zip `.pth`, via burn-store).

use std::path::Path;

use burn::store::{ModuleSnapshot, PytorchStore};
use burn::tensor::Device;

use crate::arch::Arch;
use crate::error::BackboneError;
use crate::model::EfficientNet;

/// The renames between lukemelas' keys and this module tree, all in one place:
/// - each path segment loses its leading underscore (`_blocks.3._bn1` -> `blocks.3.bn1`);
/// - BatchNorm `weight`/`bias` become `gamma`/`beta` and Linear weights are transposed (burn-store's
///   PyTorch adapter does both);
/// - `num_batches_tracked` (a training counter) is not a weight and is ignored.
const KEY_RENAME: (&str, &str) = (r"(^|\.)_", "$1");
const IGNORED_SUFFIX: &str = "num_batches_tracked";

/// What was loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    pub applied: usize,
    pub has_classifier: bool,
}

/// Builds `arch` and loads `path` into it. Fails, naming the tensors, unless every tensor of the model
/// is in the file with the right shape and every tensor of the file is used. The ImageNet classifier
/// (`_fc`) is optional: a file without it gives a model without it.
pub fn load(
    arch: &Arch,
    path: &Path,
    device: &Device,
) -> Result<(EfficientNet, LoadReport), BackboneError> {
    let read_error = |message: String| BackboneError::Read {
        path: path.to_owned(),
        message,
    };
    std::fs::metadata(path).map_err(|e| read_error(e.to_string()))?;

    let mut model = EfficientNet::new(arch, true, device);
    let mut store = PytorchStore::from_file(path)
        .with_key_remapping(KEY_RENAME.0, KEY_RENAME.1)
        .allow_partial(true);
    let result = model
        .load_from(&mut store)
        .map_err(|e| read_error(e.to_string()))?;

    let missing: Vec<&str> = result
        .missing
        .iter()
        .map(|(path, _)| path.as_str())
        .collect();
    let has_classifier = !missing.iter().any(|m| m.starts_with("fc."));
    let missing: Vec<&str> = missing
        .into_iter()
        .filter(|m| !m.starts_with("fc."))
        .collect();
    let unused: Vec<&String> = result
        .unused
        .iter()
        .filter(|u| !u.ends_with(IGNORED_SUFFIX))
        .collect();

    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!(
            "{} tensors missing from the file ({})",
            missing.len(),
            sample(&missing)
        ));
    }
    if !unused.is_empty() {
        problems.push(format!(
            "{} tensors in the file that {} has no place for ({})",
            unused.len(),
            arch.name,
            sample(&unused)
        ));
    }
    if !result.errors.is_empty() {
        let errors: Vec<String> = result.errors.iter().map(|e| e.to_string()).collect();
        problems.push(format!(
            "{} tensors rejected ({})",
            errors.len(),
            sample(&errors)
        ));
    }
    if !problems.is_empty() {
        return Err(BackboneError::Mismatch {
            path: path.to_owned(),
            arch: arch.name.to_string(),
            problems: problems.join("; "),
        });
    }
    if !has_classifier {
        model.fc = None;
    }
    Ok((
        model,
        LoadReport {
            applied: result.applied.len(),
            has_classifier,
        },
    ))
}

/// The first few names of a list, enough to see what went wrong without flooding the terminal.
fn sample<T: std::fmt::Display>(items: &[T]) -> String {
    const SHOWN: usize = 4;
    let shown: Vec<String> = items.iter().take(SHOWN).map(ToString::to_string).collect();
    if items.len() > SHOWN {
        format!("{}, ... {} more", shown.join(", "), items.len() - SHOWN)
    } else {
        shown.join(", ")
    }
}
