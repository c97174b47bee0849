//! The pooled features of a fine-tuned backbone over a cell's splits, computed once in eval mode:
//! the frozen regime's [`BatchSource`], so a fine-tuned cell is measured by the same code as a
//! frozen one.

use std::ops::Range;

use burn::tensor::{Device, Tensor, TensorData};

use crate::source::{BatchSource, Split};

/// Per split (train, val, test): features `[rows, dim]` flat (empty: not computed) and labels.
pub(crate) struct PooledFeatures<'a> {
    dim: usize,
    classes: usize,
    labels: [&'a [u32]; 3],
    x: [Vec<f32>; 3],
}

fn slot(split: Split) -> usize {
    match split {
        Split::Train => 0,
        Split::Val => 1,
        Split::Test => 2,
    }
}

impl<'a> PooledFeatures<'a> {
    /// `features(split, span)` gives the `[span.len(), dim]` features of a span of `split`'s rows;
    /// `labels` are the splits' labels, `splits` the ones to compute, in spans of `batch`.
    pub fn of(
        dim: usize,
        classes: usize,
        labels: impl Fn(Split) -> &'a [u32],
        splits: &[Split],
        batch: usize,
        features: impl Fn(Split, Range<usize>) -> Tensor<2>,
    ) -> Self {
        let mut x: [Vec<f32>; 3] = Default::default();
        for &split in splits {
            let len = labels(split).len();
            let mut out = Vec::with_capacity(len * dim);
            for start in (0..len).step_by(batch.max(1)) {
                let end = (start + batch).min(len);
                out.extend(features(split, start..end).into_data().iter::<f32>());
            }
            x[slot(split)] = out;
        }
        PooledFeatures {
            dim,
            classes,
            labels: [
                labels(Split::Train),
                labels(Split::Val),
                labels(Split::Test),
            ],
            x,
        }
    }
}

impl BatchSource for PooledFeatures<'_> {
    fn input_dim(&self) -> usize {
        self.dim
    }

    fn classes(&self) -> usize {
        self.classes
    }

    fn len(&self, split: Split) -> usize {
        if self.x[slot(split)].is_empty() {
            0
        } else {
            self.labels[slot(split)].len()
        }
    }

    fn labels(&self, split: Split) -> &[u32] {
        self.labels[slot(split)]
    }

    fn rows_host(&self, split: Split, rows: &[usize]) -> Vec<f32> {
        crate::source::gather_rows(&self.x[slot(split)], self.dim, rows)
    }

    fn span(&self, split: Split, span: Range<usize>, device: &Device) -> Tensor<2> {
        let block = self.x[slot(split)][span.start * self.dim..span.end * self.dim].to_vec();
        Tensor::from_data(TensorData::new(block, [span.len(), self.dim]), device)
    }
}
