//! Eval-mode loss and accuracy over a whole split.

use ablate_heads::Head;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::source::{BatchSource, Split};

/// Mean cross-entropy, accuracy and the predicted class of every row.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub loss: f64,
    pub acc: f64,
    /// The argmax class of each row, in the split's order (what the report's bootstrap over test
    /// images and its confusion matrices read).
    pub predicted: Vec<u16>,
}

/// Rows per forward pass: large enough to amortise dispatch, small enough to keep memory flat.
const EVAL_CHUNK: usize = 2048;

/// Evaluates `head` (already switched to eval mode with `valid()`) on `split` of `source`.
pub fn evaluate(
    head: &Head,
    source: &impl BatchSource,
    split: Split,
    device: &Device,
) -> Evaluation {
    let labels = source.labels(split);
    let mut loss_sum = 0.0f64;
    let mut correct = 0usize;
    let mut predicted = Vec::with_capacity(labels.len());
    for start in (0..labels.len()).step_by(EVAL_CHUNK) {
        let end = (start + EVAL_CHUNK).min(labels.len());
        let n = end - start;
        let logits = head.forward(source.span(split, start..end, device), None);
        let log_probs = log_softmax(logits.clone(), 1);
        let targets = Tensor::<1, Int>::from_data(
            TensorData::new(
                labels[start..end]
                    .iter()
                    .map(|&l| l as i64)
                    .collect::<Vec<_>>(),
                [n],
            ),
            device,
        );
        let picked = log_probs.gather(1, targets.unsqueeze_dim::<2>(1));
        loss_sum -= picked.sum().into_scalar::<f64>();
        let argmax = logits.argmax(1).squeeze_dim::<1>(1);
        let classes: Vec<i64> = argmax
            .into_data()
            .convert::<i64>()
            .try_into_vec::<i64>()
            .expect("argmax holds integers");
        for (&p, &l) in classes.iter().zip(&labels[start..end]) {
            correct += usize::from(p == i64::from(l));
            predicted.push(p as u16);
        }
    }
    let len = labels.len().max(1) as f64;
    Evaluation {
        loss: loss_sum / len,
        acc: correct as f64 / len,
        predicted,
    }
}
