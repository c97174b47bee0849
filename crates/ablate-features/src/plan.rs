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
    /// `Some(stage)`: the plan extracts the activations entering `stage` (a cut cache for
    /// fine-tuning the stages above it), not the pooled features.
    pub cut: Option<usize>,
}

/// Bump when extraction changes in a way the other parts of the key cannot see (v2: the 1x1
/// convolutions over more than 512 channels are cut into blocks, `ablate-matmul`).
const EXTRACTION_VERSION: &str = "features/v2";
/// The cut cache's own version (bumped like [`EXTRACTION_VERSION`]).
const CUT_VERSION: &str = "cut/v1";

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
            cut: None,
        })
    }

    /// The same images and backbone, extracting the activations entering `stage` instead of the
    /// pooled features: a key of its own (over the features' key and the cut), so a cache of
    /// another cut, other weights or other images is another file.
    pub fn cut_at(mut self, stage: usize) -> Self {
        let mut hasher = Sha256::new();
        for part in [CUT_VERSION, &self.key, &format!("cut{stage}")] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
        self.key = hex::encode(&hasher.finalize()[..8]);
        self.cut = Some(stage);
        self
    }

    /// `<dir>/<arch>-<key>.safetensors` (`<arch>-cut<stage>-<key>` for a cut cache). The key
    /// names the content, so experiments that read the same images with the same backbone (a grid
    /// and its wider sweep) share one file.
    pub fn cache_path(&self, dir: &Path) -> PathBuf {
        match self.cut {
            None => dir.join(format!("{}-{}.safetensors", self.arch.name, self.key)),
            Some(stage) => dir.join(format!(
                "{}-cut{stage}-{}.safetensors",
                self.arch.name, self.key
            )),
        }
    }

    /// Checks that `set` (read from `path`) is this plan's extraction: its recorded key is the
    /// plan's (weights, images, preprocessing and cut all match). A file that is not is refused
    /// with both keys named: a stale cache is never trained on.
    pub fn check(&self, set: &ablate_data::FeatureSet) -> Result<(), FeaturesError> {
        let recorded = set.metadata.get(ablate_data::meta::CACHE_KEY);
        if recorded != Some(&self.key) {
            return Err(FeaturesError::Spec(format!(
                "{}: its cache key is {}, but this experiment's {} is {} (other weights, images, \
                 preprocessing or cut): delete it, or run `ablate features --force`",
                set.path.display(),
                recorded.map_or("missing", String::as_str),
                if self.cut.is_some() {
                    "cut cache"
                } else {
                    "features"
                },
                self.key
            )));
        }
        Ok(())
    }

    pub fn images(&self) -> usize {
        self.dataset.train.len() + self.dataset.val.len() + self.dataset.test.len()
    }
}
