//! Images for fine-tuning, as one cell sees them: the [`ImageSet`] its owner preprocessed once per
//! run (`ablate-images`), and the cell's rows of it. A cell's training subset is drawn from the
//! labels exactly as the frozen regime draws it from the features file (same labels, same order,
//! same keyed streams): one seed, the same images.

use std::ops::Range;

use ablate_data::stratified_subset;
use ablate_images::ImageSet;
use burn::tensor::{Device, Tensor, TensorData};

use crate::error::TrainError;
use crate::source::Split;

/// One cell's view of an [`ImageSet`]: its stratified training subset, the val and test splits.
pub struct ImageBatches<'a> {
    set: &'a ImageSet,
    train_rows: Vec<usize>,
    train_y: Vec<u32>,
}

impl<'a> ImageBatches<'a> {
    /// The subset of `per_class` training images per class that `seed` draws (nested across sizes,
    /// the same rows as the frozen regime's features file gives).
    pub fn new(set: &'a ImageSet, per_class: usize, seed: u64) -> Result<Self, TrainError> {
        let counts = (0..set.classes as u32)
            .map(|c| set.train.y.iter().filter(|&&y| y == c).count())
            .enumerate()
            .min_by_key(|&(_, n)| n);
        if let Some((class, available)) = counts
            && per_class > available
        {
            return Err(TrainError::TooFewImages {
                class,
                available,
                requested: per_class,
            });
        }
        let train_rows = stratified_subset(&set.train.y, set.classes, per_class, seed);
        let train_y = train_rows.iter().map(|&i| set.train.y[i]).collect();
        Ok(Self {
            set,
            train_rows,
            train_y,
        })
    }

    pub fn classes(&self) -> usize {
        self.set.classes
    }

    pub fn size(&self) -> usize {
        self.set.size
    }

    pub fn labels(&self, split: Split) -> &[u32] {
        match split {
            Split::Train => &self.train_y,
            Split::Val => &self.set.val.y,
            Split::Test => self.set.test.as_ref().map_or(&[], |t| &t.y),
        }
    }

    pub fn len(&self, split: Split) -> usize {
        self.labels(split).len()
    }

    pub fn has(&self, split: Split) -> bool {
        self.len(split) > 0
    }

    /// The images `[rows.len(), 3, size, size]` of the given rows of `split`, in that order.
    pub fn rows(&self, split: Split, rows: &[usize], device: &Device) -> Tensor<4> {
        let n = self.set.image_len();
        let (x, index): (&[f32], &dyn Fn(usize) -> usize) = match split {
            Split::Train => (&self.set.train.x, &|i| self.train_rows[i]),
            Split::Val => (&self.set.val.x, &|i| i),
            Split::Test => (self.set.test.as_ref().map_or(&[], |t| &t.x), &|i| i),
        };
        let mut block = Vec::with_capacity(rows.len() * n);
        for &i in rows {
            let at = index(i);
            block.extend_from_slice(&x[at * n..(at + 1) * n]);
        }
        let s = self.set.size;
        Tensor::from_data(TensorData::new(block, [rows.len(), 3, s, s]), device)
    }

    /// The images of a contiguous span of `split`.
    pub fn span(&self, split: Split, span: Range<usize>, device: &Device) -> Tensor<4> {
        let rows: Vec<usize> = span.collect();
        self.rows(split, &rows, device)
    }
}
