//! Pretrained weights read once per run, from which every fine-tuning cell builds its own network.
//!
//! A cell cannot start from a clone of one loaded module: a clone of a burn module shares its
//! BatchNorm running statistics with the original (training one cell would move the next cell's
//! starting point). Reading the `.pth` for every cell would put file IO in the trainer. So the weights
//! are loaded once, strictly, and kept as a burnpack in memory; [`Pretrained::instance`] builds a
//! network of its own from it, float for float the file's.

use std::path::{Path, PathBuf};

use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::{Bytes, Device};

use crate::arch::Arch;
use crate::error::BackboneError;
use crate::load::load;
use crate::model::EfficientNet;

/// A backbone's pretrained weights without the ImageNet classifier, held in memory.
#[derive(Debug, Clone)]
pub struct Pretrained {
    arch: Arch,
    /// The file they came from, named in errors.
    path: PathBuf,
    pack: Bytes,
}

impl Pretrained {
    /// Reads `path` into `arch` (as strictly as [`load`]) and keeps its tensors.
    pub fn load(arch: &Arch, path: &Path) -> Result<Self, BackboneError> {
        let (mut model, _) = load(arch, path, &Device::flex())?;
        model.fc = None;
        let mut pack = BurnpackStore::from_bytes(None);
        let read_error = |message: String| BackboneError::Read {
            path: path.to_owned(),
            message,
        };
        model
            .save_into(&mut pack)
            .map_err(|e| read_error(e.to_string()))?;
        let pack = pack.get_bytes().map_err(|e| read_error(e.to_string()))?;
        Ok(Pretrained {
            arch: *arch,
            path: path.to_owned(),
            pack,
        })
    }

    pub fn arch(&self) -> &Arch {
        &self.arch
    }

    /// A network of its own (no state shared with any other instance) with the pretrained weights,
    /// without the ImageNet classifier, on `device`.
    pub fn instance(&self, device: &Device) -> Result<EfficientNet, BackboneError> {
        let mut model = EfficientNet::new(&self.arch, false, device);
        let result = model
            .load_from(&mut BurnpackStore::from_bytes(Some(self.pack.clone())))
            .map_err(|e| BackboneError::Read {
                path: self.path.clone(),
                message: e.to_string(),
            })?;
        if !result.errors.is_empty() || !result.missing.is_empty() || !result.unused.is_empty() {
            return Err(BackboneError::Mismatch {
                path: self.path.clone(),
                arch: self.arch.name.to_string(),
                problems: format!(
                    "{} errors, {} missing and {} unused tensors after loading",
                    result.errors.len(),
                    result.missing.len(),
                    result.unused.len()
                ),
            });
        }
        Ok(model)
    }
}
