//! The `[finetune]` section: how `backbone = "finetune"` cells train the backbone.

use serde::{Deserialize, Serialize};

use crate::data::DataSpec;
use crate::error::SpecError;
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
    /// The stem and this many of the 7 stages stay as loaded (no gradient, running statistics).
    pub freeze_stages: usize,
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
            eval_bn_stats: EvalBnStats::default(),
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
