//! Images for the backbone: datasets as lists of labelled image references with deterministic,
//! stratified train/val splits, and the preprocessing that turns one image into a normalized
//! `[3, size, size]` input.
//!
//! ```no_run
//! use ablate_images::{ImageDataset, Preprocess};
//! # fn demo(spec: &ablate_spec::DataSpec) -> Result<(), ablate_images::ImagesError> {
//! let dataset = ImageDataset::open(spec)?;
//! let input = Preprocess::imagenet(224).apply(&dataset.train[0].source)?; // 3 * 224 * 224 floats
//! # Ok(()) }
//! ```

mod csv_table;
mod dataset;
mod error;
mod folder;
mod idx;
mod preprocess;
mod preprocessed;

pub use dataset::{ImageDataset, ImageSource, LabeledImage};
pub use error::ImagesError;
pub use preprocess::Preprocess;
pub use preprocessed::{ImageSet, ImageSplit};
