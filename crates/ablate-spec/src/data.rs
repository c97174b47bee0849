//! The `[data]` and `[backbone]` sections: where the features come from.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::SpecError;
use crate::validate::{Invalid, check_axis, check_fractions};

/// The data an experiment trains on. Every kind but `features` holds images, which need a `[backbone]`
/// to become features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum DataSpec {
    /// A ready features file: safetensors with `train_x [N,F]` f32, `train_y [N]` int, `val_x`, `val_y`,
    /// and optionally `test_x`, `test_y`.
    Features { path: PathBuf },
    /// MNIST-format IDX files (gzipped or not) in `path`: `train-images-idx3-ubyte[.gz]`,
    /// `train-labels-idx1-ubyte[.gz]`, `t10k-...` (the t10k files hold the validation and test sets).
    Idx(IdxData),
    /// `root/<class>/<image>` (jpg, png). With `root/train/<class>` and `root/val/<class>` (and
    /// optionally `root/test/<class>`) the split is given; otherwise `val_fraction` (and
    /// `test_fraction`) of each class is held out.
    ImageFolder {
        root: PathBuf,
        #[serde(default)]
        val_fraction: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        test_fraction: Option<f64>,
    },
    /// Kaggle style: a CSV and a folder of images ([`CsvData`]).
    Csv(CsvData),
}

/// MNIST-format IDX files ([`DataSpec::Idx`]); the loader (`ablate-images`), the validator and the
/// report read this very type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdxData {
    pub path: PathBuf,
    /// Labels to keep, in the order that numbers them 0..C.
    pub classes: Vec<u32>,
    #[serde(default)]
    pub class_names: Option<Vec<String>>,
    /// Training images per class to extract; the grid's `train_per_class` subsets are drawn from them.
    pub train_pool_per_class: usize,
    /// Validation images per class, from the t10k files.
    pub val_per_class: usize,
    /// Test images per class, from the t10k files after the validation images (disjoint from
    /// them). Absent: no test split, and the report says it reports on val.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_per_class: Option<usize>,
    /// More test images per class from the train files, after the training pool (disjoint from
    /// it): the labelled images a grid leaves unused, for a test split large enough that its own
    /// sampling noise does not hide the differences the report measures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_from_train_per_class: Option<usize>,
}

/// Kaggle style: a CSV with an image-id column and either a label column or one-hot columns
/// (`image_id,healthy,multiple_diseases,rust,scab`), images in a folder as `<id>.<extension>`.
/// The loader (`ablate-images`) reads this very type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvData {
    pub csv: PathBuf,
    pub images: PathBuf,
    #[serde(default = "default_id_column")]
    pub id_column: String,
    #[serde(default)]
    pub label_column: Option<String>,
    #[serde(default)]
    pub one_hot_columns: Option<Vec<String>>,
    #[serde(default = "default_extension")]
    pub extension: String,
    pub val_fraction: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_fraction: Option<f64>,
}

/// Where a CSV's labels are: exactly one of `label_column` and `one_hot_columns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvLabels<'a> {
    /// One column holding each row's class name.
    Column(&'a str),
    /// One 0/1 column per class, exactly one set per row.
    OneHot(&'a [String]),
}

impl CsvData {
    /// The labels' source; `None` unless exactly one of the two keys is given (an experiment file
    /// with neither or both is refused when it is read).
    pub fn labels(&self) -> Option<CsvLabels<'_>> {
        match (&self.label_column, &self.one_hot_columns) {
            (Some(column), None) => Some(CsvLabels::Column(column)),
            (None, Some(columns)) => Some(CsvLabels::OneHot(columns)),
            _ => None,
        }
    }
}

fn default_id_column() -> String {
    "image_id".into()
}

fn default_extension() -> String {
    "jpg".into()
}

impl DataSpec {
    pub fn needs_backbone(&self) -> bool {
        !matches!(self, DataSpec::Features { .. })
    }
}

/// The backbone that turns images into features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackboneSpec {
    /// `efficientnet-b0` ... `efficientnet-b7`, `efficientnet-lite0` ... `efficientnet-lite4`.
    pub arch: String,
    /// A PyTorch `.pth` with lukemelas' parameter names.
    pub weights: PathBuf,
    /// Input resolution; the architecture's own when absent.
    #[serde(default)]
    pub image_size: Option<usize>,
    /// Images per forward pass.
    #[serde(default = "default_batch")]
    pub batch_size: usize,
}

fn default_batch() -> usize {
    32
}

/// `[data]` and `[backbone]` together: images need a backbone, features must not have one; counts
/// and fractions in range; the grid's sizes fit the IDX pool.
pub(crate) fn validate(
    data: &DataSpec,
    backbone: Option<&BackboneSpec>,
    grid_sizes: &[usize],
    invalid: &Invalid,
) -> Result<(), SpecError> {
    match (data, backbone) {
        (DataSpec::Features { .. }, Some(_)) => {
            return Err(invalid(
                "backbone",
                "has no effect with data.kind = \"features\"; remove it".into(),
            ));
        }
        (data, None) if data.needs_backbone() => {
            return Err(invalid(
                "backbone",
                "is needed to turn images into features (arch, weights)".into(),
            ));
        }
        _ => {}
    }
    if let Some(b) = backbone {
        if b.batch_size == 0 {
            return Err(invalid("backbone.batch_size", "must be at least 1".into()));
        }
        if b.image_size.is_some_and(|s| s < 32) {
            return Err(invalid(
                "backbone.image_size",
                format!("must be at least 32, got {}", b.image_size.unwrap_or(0)),
            ));
        }
    }
    match data {
        DataSpec::Idx(IdxData {
            classes,
            class_names,
            train_pool_per_class,
            val_per_class,
            test_per_class,
            test_from_train_per_class,
            ..
        }) => {
            check_axis(classes, "data.classes", invalid)?;
            if let Some(names) = class_names
                && names.len() != classes.len()
            {
                return Err(invalid(
                    "data.class_names",
                    format!(
                        "names {} classes, `data.classes` lists {}",
                        names.len(),
                        classes.len()
                    ),
                ));
            }
            if *train_pool_per_class == 0 {
                return Err(invalid(
                    "data.train_pool_per_class",
                    "must be at least 1".into(),
                ));
            }
            if *val_per_class == 0 {
                return Err(invalid("data.val_per_class", "must be at least 1".into()));
            }
            if *test_per_class == Some(0) {
                return Err(invalid(
                    "data.test_per_class",
                    "must be at least 1 (leave it out for no test split)".into(),
                ));
            }
            if *test_from_train_per_class == Some(0) {
                return Err(invalid(
                    "data.test_from_train_per_class",
                    "must be at least 1 (leave it out for a test split from the t10k files only)"
                        .into(),
                ));
            }
            if let Some(&n) = grid_sizes.iter().find(|&&n| n > *train_pool_per_class) {
                return Err(invalid(
                    "grid.train_per_class",
                    format!(
                        "asks for {n} per class, more than `data.train_pool_per_class` = {train_pool_per_class}"
                    ),
                ));
            }
        }
        DataSpec::ImageFolder {
            val_fraction,
            test_fraction,
            ..
        } => check_fractions(*val_fraction, *test_fraction, invalid)?,
        DataSpec::Csv(csv) => {
            if csv.labels().is_none() {
                return Err(invalid(
                    "data.label_column",
                    "give exactly one of `label_column` and `one_hot_columns`".into(),
                ));
            }
            check_fractions(Some(csv.val_fraction), csv.test_fraction, invalid)?;
        }
        DataSpec::Features { .. } => {}
    }
    Ok(())
}
