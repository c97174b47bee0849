//! The `[finetune]` section: how `backbone = "finetune"` cells train the backbone.

use serde::{Deserialize, Serialize};

use crate::data::DataSpec;
use crate::error::SpecError;
use crate::switch::{Switch, Value};
use crate::validate::Invalid;
use crate::variant::HeadVariant;

/// How the backbone trains in `backbone = "finetune"` cells (issue 15); the head follows `[train]`
/// (its `lr` is the head's learning rate), images are `[backbone]`'s at its `image_size`.
/// Defaults are lukemelas' (drop-connect 0.2) and the usual fine-tuning practice of a backbone
/// learning rate 10x below the head's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FinetuneSpec {
    /// The backbone's learning rate (same optimizer as the head).
    pub backbone_lr: f64,
    /// lukemelas' `drop_connect_rate`: the probability of dropping the last block's residual
    /// branch, scaled down linearly towards the first block.
    pub drop_connect: f64,
    /// The stem and this many of the 7 stages stay as loaded and run as at inference (no
    /// gradient, running statistics, no drop-connect).
    pub freeze_stages: usize,
    /// Train from a cache of the frozen stages' output (the cut), computed once per dataset and
    /// backbone, instead of running them forward at every step: the same training (tested), at
    /// the cost of the stages that train. Needs `freeze_stages` >= 1.
    pub cut_cache: bool,
    /// Which BatchNorm statistics the fine-tuned backbone is evaluated with (val every epoch, and
    /// the final train/val/test measurements).
    pub eval_bn_stats: EvalBnStats,
}

/// The statistics a fine-tuned backbone's BatchNorms normalize with in eval mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EvalBnStats {
    /// Recomputed on the training images after each epoch ("precise BN", PyTorch's
    /// `swa_utils.update_bn`): the running averages (momentum 0.01) cannot follow the backbone in
    /// a run of a few hundred steps, and lag behind the weights being evaluated.
    #[default]
    Recomputed,
    /// The running averages as training left them (what `model.eval()` uses in lukemelas' code).
    Running,
}

impl Default for FinetuneSpec {
    fn default() -> Self {
        FinetuneSpec {
            backbone_lr: 1e-4,
            drop_connect: 0.2,
            freeze_stages: 0,
            cut_cache: false,
            eval_bn_stats: EvalBnStats::default(),
        }
    }
}

/// How a fine-tuned cell's BatchNorms normalize while training (the `backbone_bn` switch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackboneBn {
    /// Batch statistics, running averages updated (`model.train()`).
    Batch,
    /// The pretrained running statistics, never updated; scale and shift train.
    Running,
}

impl FinetuneSpec {
    /// The settings a cell of `variant` fine-tunes with: the grid's `backbone_lr` replaces
    /// `[finetune]`'s.
    pub fn for_variant(&self, variant: &HeadVariant) -> FinetuneSpec {
        let mut settings = self.clone();
        if let Some(Value::Number(x)) = variant.get(Switch::BackboneLr) {
            settings.backbone_lr = x;
        }
        settings
    }

    /// The `backbone_bn` switch of `variant`.
    pub fn batch_norm(variant: &HeadVariant) -> BackboneBn {
        match variant.get(Switch::BackboneBn) {
            Some(Value::Word("running")) => BackboneBn::Running,
            _ => BackboneBn::Batch,
        }
    }
}

/// Fine-tuning trains the backbone on images: it needs images, a backbone, and a fit that takes
/// steps; `[finetune]` without a fine-tuned cell has no effect and is refused.
pub(crate) fn validate(
    finetune: Option<&FinetuneSpec>,
    data: &DataSpec,
    variants: &[HeadVariant],
    invalid: &Invalid,
) -> Result<(), SpecError> {
    let finetuned: Vec<&HeadVariant> = variants.iter().filter(|v| v.finetuned()).collect();
    if let Some(f) = finetune {
        if !(f.backbone_lr.is_finite() && f.backbone_lr > 0.0) {
            return Err(invalid(
                "finetune.backbone_lr",
                format!("must be > 0, got {}", f.backbone_lr),
            ));
        }
        if !(0.0..1.0).contains(&f.drop_connect) {
            return Err(invalid(
                "finetune.drop_connect",
                format!("must be in [0, 1), got {}", f.drop_connect),
            ));
        }
        if f.freeze_stages > 7 {
            return Err(invalid(
                "finetune.freeze_stages",
                format!("EfficientNet has 7 stages, got {}", f.freeze_stages),
            ));
        }
        if f.cut_cache && f.freeze_stages == 0 {
            return Err(invalid(
                "finetune.cut_cache",
                "caches the output of the frozen stages, but `freeze_stages` is 0: set it to the \
                 stages below the cut (6 trains the last stage and the head conv)"
                    .into(),
            ));
        }
        if finetuned.is_empty() {
            return Err(invalid(
                "finetune",
                "has no effect: no cell of the grid has `backbone = \"finetune\"`".into(),
            ));
        }
    }
    if let Some(v) = finetuned.first() {
        if !data.needs_backbone() {
            return Err(invalid(
                "grid.backbone",
                format!(
                    "\"finetune\" ({}) trains the backbone on images, but `data.kind` = \"features\" \
                     holds features only: use kind \"idx\", \"image-folder\" or \"csv\"",
                    v.name()
                ),
            ));
        }
        if let Some(v) = finetuned.iter().find(|v| v.converged()) {
            return Err(invalid(
                "grid.fit",
                format!(
                    "\"lbfgs\" fits a linear probe on frozen features; it cannot fine-tune ({})",
                    v.name()
                ),
            ));
        }
    }
    Ok(())
}
