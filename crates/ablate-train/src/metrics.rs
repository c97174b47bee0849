//! What training one cell measures.

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
    /// mlp heads: BN's running variance over the variance of its eval-mode input on the validation
    /// set, median over features (the variance shift of Li et al.); absent in older records.
    #[serde(default)]
    pub bn_var_ratio: Option<f64>,
}
