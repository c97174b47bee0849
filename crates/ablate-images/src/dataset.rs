//! A dataset as labelled image references, split into train and val.

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
    /// sha256 over the dataset's files (names and bytes): part of the features cache key.
    pub content_sha256: String,
}

impl ImageDataset {
    /// Reads the dataset a `[data]` section describes. `kind = "features"` has no images: an error.
    pub fn open(spec: &DataSpec) -> Result<Self, ImagesError> {
        match spec {
            DataSpec::Idx {
                path,
                classes,
                class_names,
                train_pool_per_class,
                val_per_class,
            } => crate::idx::open(
                path,
                classes,
                class_names.as_deref(),
                *train_pool_per_class,
                *val_per_class,
            ),
            DataSpec::ImageFolder { root, val_fraction } => {
                crate::folder::open(root, *val_fraction)
            }
            DataSpec::Csv {
                csv,
                images,
                id_column,
                label_column,
                one_hot_columns,
                extension,
                val_fraction,
            } => crate::csv_table::open(&crate::csv_table::CsvSpec {
                csv,
                images,
                id_column,
                label_column: label_column.as_deref(),
                one_hot_columns: one_hot_columns.as_deref(),
                extension,
                val_fraction: *val_fraction,
            }),
            DataSpec::Features { path } => Err(crate::error::invalid(
                path,
                "is a features file, not images",
            )),
        }
    }
}

/// Splits each class's items into (train, val) with `val_fraction` held out (at least one of each),
/// deterministically: items are sorted by the caller, then shuffled by a stream keyed by the class.
pub(crate) fn split_by_fraction(
    per_class: Vec<Vec<ImageSource>>,
    val_fraction: f64,
) -> (Vec<LabeledImage>, Vec<LabeledImage>) {
    let mut train = Vec::new();
    let mut val = Vec::new();
    for (label, mut items) in per_class.into_iter().enumerate() {
        items.shuffle(&mut stream(0, &format!("split/class{label}")));
        let n_val = ((items.len() as f64 * val_fraction).round() as usize)
            .clamp(1, items.len().saturating_sub(1));
        for (i, source) in items.into_iter().enumerate() {
            let item = LabeledImage {
                source,
                label: label as u32,
            };
            if i < n_val {
                val.push(item)
            } else {
                train.push(item)
            }
        }
    }
    (train, val)
}
