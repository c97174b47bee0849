//! Paired training of the forum's head variants.
//!
//! For one seed every variant sees the same training subset, the same batch order and the same dropout
//! draws, and shared layers start from the same weights (see `ablate-heads`). Differences between two
//! variants trained with one seed are therefore caused by the switch that differs, not by luck, and the
//! report can use paired statistics.
//!
//! ```no_run
//! # use ablate_spec::{Cell, HeadVariant, TrainSpec};
//! let features = ablate_data::FeatureSet::load("features.safetensors".as_ref()).unwrap();
//! let cell = Cell { head: HeadVariant::Linear { last_bias: true, input_dropout: 0.0, weight_decay: None }, train_per_class: 25, seed: 0 };
//! let outcome = ablate_train::train_cell(&cell, &TrainSpec::default(), &features, &burn::tensor::Device::flex()).unwrap();
//! println!("val acc {}", outcome.val_acc);
//! ```

mod error;
mod evaluate;
mod metrics;
mod optimizer;
mod trainer;

pub use error::TrainError;
pub use evaluate::{Evaluation, evaluate};
pub use metrics::{CellOutcome, EpochMetrics};
pub use trainer::{head_config, train_cell};
