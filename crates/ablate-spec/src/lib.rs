//! Experiment files for `ablate`: parse a TOML grid, validate it into types that cannot be wrong,
//! and expand it into the cells the runner trains.
//!
//! ```
//! let text = r#"
//! name = "tiny"
//! [data]
//! kind = "features"
//! path = "features.safetensors"
//! [train]
//! epochs = 2
//! [grid]
//! head = ["mlp", "linear"]
//! bias_before_bn = [true, false]
//! relu = [false]
//! dropout = [0.0]
//! train_per_class = [10]
//! seeds = [0, 1]
//! "#;
//! let experiment = ablate_spec::Experiment::from_toml_str(text, "tiny.toml".as_ref()).unwrap();
//! // 2 mlp variants + 1 linear variant (the mlp-only axes do not multiply it), times 2 seeds.
//! assert_eq!(experiment.cells().len(), 6);
//! ```

mod axis;
mod cell;
mod claim;
mod config;
mod data;
mod declared;
mod error;
mod experiment;
mod finetune;
mod grid;
mod heads;
mod layer;
mod report;
pub mod seeding;
pub mod shard;
mod stack;
mod switch;
mod thread;
mod train;
mod validate;
mod value_serde;
mod variant;

pub use axis::{HeadAxis, PerHead};
pub use cell::{Cell, epoch_prefix_group_indices, epoch_prefix_groups};
pub use claim::{Claim, Compare, Expect, Metric, Selector, variant_pairs};
pub use config::Config;
pub use data::{BackboneSpec, CsvData, CsvLabels, DataSpec, IdxData};
pub use declared::{DeclaredHead, DeclaredHeads, declare};
pub use error::SpecError;
pub use experiment::{Claims, Experiment};
pub use finetune::{BackboneBn, EvalBnStats, FinetuneSpec};
pub use grid::{GridBlock, GridSpec};
pub use heads::{Colours, Drawn, HEADS, HeadInfo, HeadKind, Rgb};
pub use layer::{LAYER_FORMS, Layer, LayerRole, Width, layer_names, layers_line};
pub use report::{HeadTexts, Highlight, ReportSpec};
pub use stack::{stack_group_indices, stack_key};
pub use switch::{
    Kind, Range, SWITCHES, Switch, SwitchSpec, Value, ValueError, Word, plain_number,
};
pub use thread::{Unmeasured, context_claims, measurable, thread_claims};
pub use train::{OptimizerKind, TrainSetting, TrainSpec};
pub use variant::{DropoutPosition, HeadVariant, VariantNameError, plain_labels};
