//! What an extraction needs and the key that names its result.

use std::path::{Path, PathBuf};

use ablate_backbone::Arch;
use ablate_images::{ImageDataset, Preprocess};
use ablate_spec::{BackboneSpec, Experiment};
use sha2::{Digest, Sha256};

use crate::error::FeaturesError;

/// An experiment's images, backbone and preprocessing, with their hashes.
pub struct Plan {
    pub arch: Arch,
    pub backbone: BackboneSpec,
    pub dataset: ImageDataset,
    pub preprocess: Preprocess,
    pub weights_sha256: String,
    /// Hex key over everything that determines the features.
    pub key: String,
}

/// Bump when extraction changes in a way the other parts of the key cannot see (v2: the 1x1
/// convolutions over more than 512 channels are cut into blocks, `ablate-matmul`).
const EXTRACTION_VERSION: &str = "features/v2";

impl Plan {
    pub fn new(experiment: &Experiment) -> Result<Self, FeaturesError> {
        let backbone = experiment.config.backbone.clone().ok_or_else(|| {
            FeaturesError::Spec(format!(
                "{}: `data.kind` holds features already; there is nothing to extract",
                experiment.source.display()
            ))
        })?;
        let arch = Arch::from_name(&backbone.arch)?;
        let weights = std::fs::read(&backbone.weights).map_err(|source| FeaturesError::Read {
            path: backbone.weights.clone(),
            source,
        })?;
        let weights_sha256 = hex::encode(Sha256::digest(&weights));
        let dataset = ImageDataset::open(&experiment.config.data)?;
        let preprocess = Preprocess::imagenet(backbone.image_size.unwrap_or(arch.resolution));

        let mut hasher = Sha256::new();
        for part in [
            EXTRACTION_VERSION.to_string(),
            weights_sha256.clone(),
            dataset.content_sha256.clone(),
            serde_json::to_string(&experiment.config.data).expect("serializes"),
            arch.name.to_string(),
            preprocess.cache_key_text(),
        ] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
        Ok(Plan {
            arch,
            backbone,
            dataset,
            preprocess,
            weights_sha256,
            key: hex::encode(&hasher.finalize()[..8]),
        })
    }

    /// `<dir>/<arch>-<key>.safetensors`. The key names the content, so experiments that read the
    /// same images with the same backbone (a grid and its wider sweep) share one file.
    pub fn cache_path(&self, dir: &Path) -> PathBuf {
        dir.join(format!("{}-{}.safetensors", self.arch.name, self.key))
    }

    pub fn images(&self) -> usize {
        self.dataset.train.len() + self.dataset.val.len() + self.dataset.test.len()
    }
}
