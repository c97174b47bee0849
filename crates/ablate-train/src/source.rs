//! Where a cell's batches come from. The trainer asks a [`BatchSource`] for the inputs of the rows it
//! has drawn; it never slices a dataset itself, so frozen features and (later) images plug into the
//! same training loop.

use std::ops::Range;

use ablate_data::{DataError, FeatureSet};
use burn::tensor::{Device, Tensor, TensorData};

/// The splits a cell trains on, chooses on and reports on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// The cell's training subset (its rows numbered 0..len).
    Train,
    Val,
    Test,
}

/// Inputs and labels of one cell's splits.
pub trait BatchSource {
    /// Width of the head's input (the backbone's feature width).
    fn input_dim(&self) -> usize;
    fn classes(&self) -> usize;
    /// Rows of `split` (0 when the source has no such split).
    fn len(&self, split: Split) -> usize;
    fn labels(&self, split: Split) -> &[u32];
    /// The inputs `[rows.len(), input_dim]` of the given rows of `split`, in that order.
    fn rows(&self, split: Split, rows: &[usize], device: &Device) -> Tensor<2> {
        let block = self.rows_host(split, rows);
        Tensor::from_data(
            TensorData::new(block, [rows.len(), self.input_dim()]),
            device,
        )
    }
    /// The same rows on the host, flat (what a stack's input is assembled from).
    fn rows_host(&self, split: Split, rows: &[usize]) -> Vec<f32>;
    /// The inputs of a contiguous span of `split` (evaluation walks a split in spans).
    fn span(&self, split: Split, span: Range<usize>, device: &Device) -> Tensor<2>;

    fn has(&self, split: Split) -> bool {
        self.len(split) > 0
    }
}

/// Frozen backbone features: the cell's stratified training subset of a features file, with the
/// file's val and test splits.
pub struct FeatureSource<'a> {
    data: &'a FeatureSet,
    train_x: Vec<f32>,
    train_y: Vec<u32>,
}

impl<'a> FeatureSource<'a> {
    /// The subset of `per_class` training rows per class that `seed` draws (nested across sizes).
    pub fn new(data: &'a FeatureSet, per_class: usize, seed: u64) -> Result<Self, DataError> {
        let subset = data.train_subset(per_class, seed)?;
        let (train_x, train_y) = data.train.gather(&subset);
        Ok(Self {
            data,
            train_x,
            train_y,
        })
    }

    fn x(&self, split: Split) -> &[f32] {
        match split {
            Split::Train => &self.train_x,
            Split::Val => &self.data.val.x,
            Split::Test => self.data.test.as_ref().map_or(&[], |t| &t.x),
        }
    }
}

impl BatchSource for FeatureSource<'_> {
    fn input_dim(&self) -> usize {
        self.data.dim()
    }

    fn classes(&self) -> usize {
        self.data.num_classes
    }

    fn len(&self, split: Split) -> usize {
        self.labels(split).len()
    }

    fn labels(&self, split: Split) -> &[u32] {
        match split {
            Split::Train => &self.train_y,
            Split::Val => &self.data.val.y,
            Split::Test => self.data.test.as_ref().map_or(&[], |t| &t.y),
        }
    }

    fn rows_host(&self, split: Split, rows: &[usize]) -> Vec<f32> {
        gather_rows(self.x(split), self.input_dim(), rows)
    }

    fn span(&self, split: Split, span: Range<usize>, device: &Device) -> Tensor<2> {
        let dim = self.input_dim();
        let block = self.x(split)[span.start * dim..span.end * dim].to_vec();
        Tensor::from_data(TensorData::new(block, [span.len(), dim]), device)
    }
}

/// The given rows of a flat `[_, dim]` matrix, in that order.
pub(crate) fn gather_rows(x: &[f32], dim: usize, rows: &[usize]) -> Vec<f32> {
    let mut block = Vec::with_capacity(rows.len() * dim);
    for &i in rows {
        block.extend_from_slice(&x[i * dim..(i + 1) * dim]);
    }
    block
}
