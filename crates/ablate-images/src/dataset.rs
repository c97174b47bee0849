//! A dataset as labelled image references, split into train, val and (optionally) test.

use std::path::PathBuf;
use std::sync::Arc;

use ablate_spec::DataSpec;
use ablate_spec::seeding::stream;
use rand::seq::SliceRandom;

use crate::error::ImagesError;

/// Where an image's pixels are.
#[derive(Debug, Clone)]
pub enum ImageSource {
    /// A grayscale image held in memory (IDX files are small).
    Gray {
        width: usize,
        height: usize,
        pixels: Arc<[u8]>,
    },
    /// An image file (jpg, png), decoded when it is preprocessed.
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct LabeledImage {
    pub source: ImageSource,
    /// 0..C, in the order of [`ImageDataset::class_names`].
    pub label: u32,
}

#[derive(Debug, Clone)]
pub struct ImageDataset {
    pub class_names: Vec<String>,
    pub train: Vec<LabeledImage>,
    pub val: Vec<LabeledImage>,
    /// Held out from both training and model selection; empty when the dataset has no test split.
    pub test: Vec<LabeledImage>,
    /// sha256 over the dataset's files (names and bytes): part of the features cache key.
    pub content_sha256: String,
}

impl ImageDataset {
    /// Reads the dataset a `[data]` section describes. `kind = "features"` has no images: an error.
    pub fn open(spec: &DataSpec) -> Result<Self, ImagesError> {
        match spec {
            DataSpec::Idx(data) => crate::idx::open(
                &data.path,
                &data.classes,
                data.class_names.as_deref(),
                crate::idx::Counts {
                    train_pool: data.train_pool_per_class,
                    val: data.val_per_class,
                    test: data.test_per_class.unwrap_or(0),
                    test_from_train: data.test_from_train_per_class.unwrap_or(0),
                },
            ),
            DataSpec::ImageFolder {
                root,
                val_fraction,
                test_fraction,
            } => crate::folder::open(root, *val_fraction, *test_fraction),
            DataSpec::Csv(data) => crate::csv_table::open(data),
            DataSpec::Features { path } => Err(crate::error::invalid(
                path,
                "is a features file, not images",
            )),
        }
    }
}

/// The three splits of a dataset.
pub(crate) struct Splits {
    pub train: Vec<LabeledImage>,
    pub val: Vec<LabeledImage>,
    pub test: Vec<LabeledImage>,
}

impl ImageDataset {
    /// The dataset of `splits`, its content hash the digest of what `hasher` was fed (the loaders
    /// hash the bytes of every image, in order).
    pub(crate) fn from_splits(
        class_names: Vec<String>,
        splits: Splits,
        hasher: sha2::Sha256,
    ) -> Self {
        use sha2::Digest;
        ImageDataset {
            class_names,
            train: splits.train,
            val: splits.val,
            test: splits.test,
            content_sha256: hex::encode(hasher.finalize()),
        }
    }
}

/// Splits each class's items into train, val (`val_fraction`, at least one) and test
/// (`test_fraction`; none when 0), deterministically: items are sorted by the caller, then shuffled
/// by a stream keyed by the class; val takes the first items, test the next, train the rest (at
/// least one). Without a test fraction the val set is what it was before test splits existed.
pub(crate) fn split_by_fraction(
    per_class: Vec<Vec<ImageSource>>,
    val_fraction: f64,
    test_fraction: f64,
) -> Splits {
    let mut splits = Splits {
        train: Vec::new(),
        val: Vec::new(),
        test: Vec::new(),
    };
    for (label, mut items) in per_class.into_iter().enumerate() {
        items.shuffle(&mut stream(0, &format!("split/class{label}")));
        let n = items.len();
        let n_val = ((n as f64 * val_fraction).round() as usize).clamp(1, n.saturating_sub(1));
        // At least one test image when asked for, unless that would leave no training image.
        let n_test = if test_fraction > 0.0 {
            ((n as f64 * test_fraction).round() as usize)
                .max(1)
                .min(n.saturating_sub(n_val + 1))
        } else {
            0
        };
        for (i, source) in items.into_iter().enumerate() {
            let item = LabeledImage {
                source,
                label: label as u32,
            };
            if i < n_val {
                splits.val.push(item)
            } else if i < n_val + n_test {
                splits.test.push(item)
            } else {
                splits.train.push(item)
            }
        }
    }
    splits
}
