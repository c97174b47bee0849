//! Paired training of the forum's head variants.
//!
//! For one seed every variant sees the same training subset, the same batch order and the same dropout
//! draws, and shared layers start from the same weights (see `ablate-heads`). Differences between two
//! variants trained with one seed are therefore caused by the switch that differs, not by luck, and the
//! report can use paired statistics.
//!
//! ```no_run
//! # use ablate_spec::{Cell, HeadVariant, TrainSpec};
//! # use ablate_train::{FeatureSource, train_cell};
//! let features = ablate_data::FeatureSet::load("features.safetensors".as_ref()).unwrap();
//! let cell = Cell { head: HeadVariant::linear(), train_per_class: 25, seed: 0 };
//! let source = FeatureSource::new(&features, cell.train_per_class, cell.subset_seed()).unwrap();
//! let outcome = train_cell(&cell, &TrainSpec::default(), &source, &burn::tensor::Device::flex()).unwrap();
//! println!("val acc {}", outcome.val_acc);
//! ```

mod checkpoint;
mod cut_cell;
mod draws;
mod epochs;
mod error;
mod evaluate;
mod finetune;
mod finetune_cell;
mod host_reads;
mod images;
mod optimizer;
mod pooled;
mod source;
mod stack;
mod stacked_adam;
mod trainer;

pub use cut_cell::{CutInputs, CutSet, TopNet, train_cut_cell, train_cut_cells};
pub use draws::{DrawSpec, StepDraws, step_key};
pub use epochs::cross_entropy;
pub use error::TrainError;
pub use evaluate::{Evaluation, evaluate};
pub use finetune::{FineTuneNet, PartLr, optimizer_step};
pub use finetune_cell::{PretrainedBackbone, Watch, train_finetune_cell};
pub use host_reads::host_reads;
pub use images::ImageBatches;
pub use optimizer::{adam_pass_seconds, build as build_optimizer};
pub use source::{BatchSource, FeatureSource, Split};
pub use stack::{StackEvent, train_stack};
pub use trainer::{head_config, train_cell, train_cells_sharing_epochs};
