//! The `[train]` section: how every cell trains (defaults are PyTorch's), and the settings a grid
//! switch can override per cell.

use serde::{Deserialize, Serialize};

use crate::error::SpecError;
use crate::switch::Value;
use crate::validate::Invalid;
use crate::variant::HeadVariant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    Adam,
    Sgd,
}

/// Training settings shared by every cell. Defaults are PyTorch's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSpec {
    pub optimizer: OptimizerKind,
    pub lr: f64,
    pub epochs: usize,
    pub batch_size: usize,
    /// Width of the mlp head's hidden layer (the thread's 1024).
    pub hidden: usize,
    /// Adam's (beta1, beta2).
    pub betas: [f64; 2],
    /// Adam's epsilon (PyTorch default 1e-8; burn's own default differs, so it is always set).
    pub eps: f64,
    /// SGD momentum (no dampening, no Nesterov, as PyTorch's default).
    pub momentum: f64,
    /// L2 penalty added to the gradient (PyTorch's `weight_decay`, not AdamW's decoupled decay).
    pub weight_decay: f64,
}

impl Default for TrainSpec {
    fn default() -> Self {
        Self {
            optimizer: OptimizerKind::Adam,
            lr: 1e-3,
            epochs: 20,
            batch_size: 64,
            hidden: 1024,
            betas: [0.9, 0.999],
            eps: 1e-8,
            momentum: 0.0,
            weight_decay: 0.0,
        }
    }
}

impl TrainSpec {
    /// Whether the `[train]` setting a switch falls back to is away from its default: then the grid
    /// and `[train]` would both set it.
    pub fn is_set(&self, setting: TrainSetting) -> bool {
        let default = Self::default();
        match setting {
            TrainSetting::WeightDecay => self.weight_decay != default.weight_decay,
            // `[train]`'s budget is the baseline of every cell whose grid leaves `lr`/`epochs`
            // unset (a block of the grid sweeps it around that baseline): no conflict.
            TrainSetting::Lr | TrainSetting::Epochs => false,
            // Not a `[train]` setting: `[finetune] backbone_lr` is the baseline of the grid's axis.
            TrainSetting::BackboneLr => false,
        }
    }

    /// The settings a cell of `variant` trains with: every switch that falls back to a `[train]`
    /// setting and is set by the grid replaces it.
    pub fn for_variant(&self, variant: &HeadVariant) -> TrainSpec {
        let mut settings = self.clone();
        for (spec, value) in variant.switches() {
            if let (Some(setting), Value::Number(x)) = (spec.fallback, value) {
                settings.set(setting, x);
            }
        }
        settings
    }

    fn set(&mut self, setting: TrainSetting, x: f64) {
        match setting {
            TrainSetting::WeightDecay => self.weight_decay = x,
            TrainSetting::Lr => self.lr = x,
            // A whole number: the switch's range is checked when the grid is read.
            TrainSetting::Epochs => self.epochs = x as usize,
            // `FinetuneSpec::for_variant` reads it.
            TrainSetting::BackboneLr => {}
        }
    }

    /// Checks every value's range; errors name the `train.*` key.
    pub(crate) fn validate(&self, invalid: &Invalid) -> Result<(), SpecError> {
        let t = self;
        if !(t.lr.is_finite() && t.lr > 0.0) {
            return Err(invalid("train.lr", format!("must be > 0, got {}", t.lr)));
        }
        if t.epochs == 0 {
            return Err(invalid("train.epochs", "must be at least 1".into()));
        }
        if t.batch_size < 2 {
            return Err(invalid(
                "train.batch_size",
                format!(
                    "must be at least 2 (BatchNorm needs two samples), got {}",
                    t.batch_size
                ),
            ));
        }
        if t.hidden == 0 {
            return Err(invalid("train.hidden", "must be at least 1".into()));
        }
        if t.betas.iter().any(|b| !(0.0..1.0).contains(b)) {
            return Err(invalid(
                "train.betas",
                format!("must be in [0, 1), got {:?}", t.betas),
            ));
        }
        if !(t.eps.is_finite() && t.eps > 0.0) {
            return Err(invalid("train.eps", format!("must be > 0, got {}", t.eps)));
        }
        if !(0.0..1.0).contains(&t.momentum) {
            return Err(invalid(
                "train.momentum",
                format!("must be in [0, 1), got {}", t.momentum),
            ));
        }
        if !(t.weight_decay.is_finite() && t.weight_decay >= 0.0) {
            return Err(invalid(
                "train.weight_decay",
                format!("must be >= 0, got {}", t.weight_decay),
            ));
        }
        Ok(())
    }
}

/// A `[train]` setting that a grid switch can override per cell (the switch's fallback).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrainSetting {
    WeightDecay,
    Lr,
    Epochs,
    /// `[finetune] backbone_lr` (the one fallback outside `[train]`).
    BackboneLr,
}

impl TrainSetting {
    /// Its key under `[train]`.
    pub fn key(self) -> &'static str {
        match self {
            TrainSetting::WeightDecay => "weight_decay",
            TrainSetting::Lr => "lr",
            TrainSetting::Epochs => "epochs",
            TrainSetting::BackboneLr => "backbone_lr",
        }
    }
}

impl std::fmt::Display for TrainSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(self.key())
    }
}
