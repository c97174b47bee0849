//! A dataset preprocessed once per run: every image decoded, resized and normalized and held in
//! memory, shared by every cell (decoding and resizing each epoch would cost more than a training
//! step on CPU). The trainer reads these arrays and never decodes an image itself.

use rayon::prelude::*;

use crate::dataset::{ImageDataset, LabeledImage};
use crate::error::ImagesError;
use crate::preprocess::Preprocess;

/// One split's preprocessed images `[n, 3, size, size]`, flat, and labels.
#[derive(Debug, Clone)]
pub struct ImageSplit {
    pub x: Vec<f32>,
    pub y: Vec<u32>,
}

/// A dataset's splits, preprocessed at one image size.
#[derive(Debug, Clone)]
pub struct ImageSet {
    pub size: usize,
    pub classes: usize,
    pub train: ImageSplit,
    pub val: ImageSplit,
    pub test: Option<ImageSplit>,
}

impl ImageSet {
    /// Preprocesses every image of `dataset` (in parallel over the cores).
    pub fn preprocess(
        dataset: &ImageDataset,
        preprocess: &Preprocess,
    ) -> Result<Self, ImagesError> {
        let split = |items: &[LabeledImage]| -> Result<ImageSplit, ImagesError> {
            let inputs: Vec<Vec<f32>> = items
                .par_iter()
                .map(|item| preprocess.apply(&item.source))
                .collect::<Result<_, _>>()?;
            Ok(ImageSplit {
                x: inputs.into_iter().flatten().collect(),
                y: items.iter().map(|i| i.label).collect(),
            })
        };
        Ok(ImageSet {
            size: preprocess.size,
            classes: dataset.class_names.len(),
            train: split(&dataset.train)?,
            val: split(&dataset.val)?,
            test: if dataset.test.is_empty() {
                None
            } else {
                Some(split(&dataset.test)?)
            },
        })
    }

    /// Values per image, `3 * size * size`.
    pub fn image_len(&self) -> usize {
        3 * self.size * self.size
    }
}
