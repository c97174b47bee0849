//! What training one cell measures: its per-epoch rows and its final metrics (filled by
//! `ablate-train`, stored by `ablate-results`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based.
    pub epoch: usize,
    /// Mean over the epoch's steps of the train-mode (batch statistics, dropout on) loss.
    pub train_loss: f64,
    pub val_loss: f64,
    pub val_acc: f64,
    /// Max over the epoch's steps of max |dL/db| for the bias right before BatchNorm; `None` when the
    /// head has no such bias.
    pub bias_grad_max: Option<f64>,
}

/// Final metrics of one cell, all in eval mode (running statistics, no dropout).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellOutcome {
    pub epochs: Vec<EpochMetrics>,
    pub train_acc: f64,
    pub train_loss: f64,
    pub val_acc: f64,
    pub val_loss: f64,
    /// On the test split, when the features have one (absent otherwise and in older records).
    #[serde(default)]
    pub test_acc: Option<f64>,
    #[serde(default)]
    pub test_loss: Option<f64>,
    pub params: usize,
    pub seconds: f64,
    /// Optimizer steps taken.
    pub steps: usize,
    /// True when the last batch of an epoch held a single sample and was skipped (BatchNorm cannot
    /// train on one sample).
    pub dropped_single_sample_batch: bool,
    /// mlp heads: BN's running variance over the variance of its eval-mode input on the cell's
    /// training rows, median over features (the variance shift of Li et al.); absent in older records.
    #[serde(default)]
    pub bn_var_ratio: Option<f64>,
    /// mlp heads with a test split: the test accuracy with BN's statistics recomputed on the training
    /// rows without any dropout (eval mode), beside `test_acc` with the statistics training left;
    /// absent in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_acc_bn_refit: Option<f64>,
    /// The argmax class of every test row, in the split's order (the report's intervals over test
    /// images and confusion matrices read them); absent without a test split and in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_predictions: Option<Vec<u16>>,
    /// How a converged fit (`fit = "lbfgs"`) ended; absent for cells trained by optimizer steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit: Option<FitReport>,
}

/// The end of a full-batch L-BFGS fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    /// Loss and gradient evaluations over the whole training subset.
    pub evaluations: usize,
    /// Largest |gradient| of the objective (cross-entropy + L2) at the end: how converged it is.
    pub grad_max: f64,
    /// The objective at the end.
    pub objective: f64,
}

/// What the epochs so far recorded: the state a checkpoint keeps besides the weights.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochLog {
    pub epochs: Vec<EpochMetrics>,
    pub steps: usize,
    pub dropped_single_sample_batch: bool,
}
