//! Eval-mode loss and accuracy over a whole split.

use ablate_heads::{BnStats, SequentialHead};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::host_reads::read_floats;
use crate::source::{BatchSource, Split};

/// Mean cross-entropy, accuracy and the predicted class of every row.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub loss: f64,
    pub acc: f64,
    /// The argmax class of each row, in the split's order (what the report's intervals over test
    /// images and its confusion matrices read).
    pub predicted: Vec<u16>,
}

/// Rows per forward pass: large enough to amortise dispatch, small enough to keep memory flat.
const EVAL_CHUNK: usize = 2048;

/// Evaluates `head` (already switched to eval mode with `valid()`) on `split` of `source`.
pub fn evaluate(
    head: &SequentialHead,
    source: &impl BatchSource,
    split: Split,
    device: &Device,
) -> Evaluation {
    evaluate_with_refit(head, None, source, split, device).0
}

/// [`evaluate`], and given `refit` the same evaluation with those BatchNorm statistics in place of
/// the running ones (the layers before BN computed once for both).
pub fn evaluate_with_refit(
    head: &SequentialHead,
    refit: Option<&BnStats>,
    source: &impl BatchSource,
    split: Split,
    device: &Device,
) -> (Evaluation, Option<Evaluation>) {
    let labels = source.labels(split);
    let mut trained = Tally::new(labels.len());
    let mut refitted = refit.map(|_| Tally::new(labels.len()));
    for start in (0..labels.len()).step_by(EVAL_CHUNK) {
        let end = (start + EVAL_CHUNK).min(labels.len());
        let (logits, refit_logits) =
            head.forward_eval_pair(source.span(split, start..end, device), refit);
        trained.add(logits, &labels[start..end], device);
        if let (Some(tally), Some(logits)) = (refitted.as_mut(), refit_logits) {
            tally.add(logits, &labels[start..end], device);
        }
    }
    (trained.finish(), refitted.map(Tally::finish))
}

/// Loss, hits and predictions summed over the chunks of a split.
struct Tally {
    loss_sum: f64,
    correct: usize,
    predicted: Vec<u16>,
    rows: usize,
}

impl Tally {
    fn new(rows: usize) -> Self {
        Tally {
            loss_sum: 0.0,
            correct: 0,
            predicted: Vec::with_capacity(rows),
            rows,
        }
    }

    fn add(&mut self, logits: Tensor<2>, labels: &[u32], device: &Device) {
        let n = labels.len();
        let log_probs = log_softmax(logits.clone(), 1);
        let targets = Tensor::<1, Int>::from_data(
            TensorData::new(labels.iter().map(|&l| l as i64).collect::<Vec<_>>(), [n]),
            device,
        );
        let picked = log_probs.gather(1, targets.unsqueeze_dim::<2>(1));
        // The loss sum and the predicted classes in one read (class indices are exact in f32).
        let argmax = logits.argmax(1).squeeze_dim::<1>(1).float();
        let values = read_floats(Tensor::cat(vec![picked.sum(), argmax], 0));
        self.loss_sum -= f64::from(values[0]);
        let classes = &values[1..];
        for (&p, &l) in classes.iter().zip(labels) {
            let p = p as i64;
            self.correct += usize::from(p == i64::from(l));
            self.predicted.push(p as u16);
        }
    }

    fn finish(self) -> Evaluation {
        let len = self.rows.max(1) as f64;
        Evaluation {
            loss: self.loss_sum / len,
            acc: self.correct as f64 / len,
            predicted: self.predicted,
        }
    }
}
