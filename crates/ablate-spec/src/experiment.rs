//! The experiment file: raw TOML shapes (serde, unknown keys refused) and the validated [`Experiment`].

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cell::Cell;
use crate::claim::{Claim, Expect};
use crate::data::{BackboneSpec, DataSpec};
use crate::error::SpecError;
use crate::grid::{GridBlock, GridSpec};
use crate::report::ReportSpec;
use crate::switch::{Switch, Value};
use crate::thread::{Unmeasured, measurable, thread_claims};
use crate::variant::HeadVariant;

/// A validated experiment: every value is in range, every grid axis is non-empty and duplicate-free.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Experiment {
    pub name: String,
    pub data: DataSpec,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backbone: Option<BackboneSpec>,
    pub train: TrainSpec,
    /// How `backbone = "finetune"` cells train the backbone; defaults when the grid fine-tunes
    /// and the file has no `[finetune]` (left out of the hash when nothing fine-tunes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finetune: Option<FinetuneSpec>,
    pub grid: GridSpec,
    /// The claims the report judges: the file's `[[claims]]`, or (when it declares none) the
    /// thread's claims that the grid can measure. They only read results, so they are left out of
    /// the config hash: editing a claim never invalidates trained cells.
    #[serde(skip)]
    pub claims: Vec<Claim>,
    /// False when `claims` are the thread's defaults (no `[[claims]]` in the file).
    #[serde(skip)]
    pub claims_declared: bool,
    /// Default claims the grid cannot measure, with what to add to it.
    #[serde(skip)]
    pub unmeasured: Vec<Unmeasured>,
    /// The report's prose for this experiment (left out of the config hash, like the claims).
    #[serde(skip)]
    pub report: ReportSpec,
    /// The file it was read from; relative paths inside it are taken from the working directory.
    #[serde(skip)]
    pub source: PathBuf,
}

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
    /// Whether the `[train]` setting `key` (a switch's fallback) is away from its default.
    pub fn is_set(&self, key: &str) -> bool {
        let default = Self::default();
        match key {
            "weight_decay" => self.weight_decay != default.weight_decay,
            // `[train]`'s budget is the baseline of every cell whose grid leaves `lr`/`epochs`
            // unset (a block of the grid sweeps it around that baseline): no conflict.
            _ => false,
        }
    }

    /// The settings a cell of `variant` trains with: every switch that falls back to a `[train]`
    /// setting and is set by the grid replaces it.
    pub fn for_variant(&self, variant: &HeadVariant) -> TrainSpec {
        let mut settings = self.clone();
        for (spec, value) in variant.switches() {
            if let (Some(key), Value::Number(x)) = (spec.fallback, value) {
                settings.set(key, x);
            }
        }
        settings
    }

    fn set(&mut self, key: &str, x: f64) {
        match key {
            "weight_decay" => self.weight_decay = x,
            "lr" => self.lr = x,
            // A whole number: the switch's range is checked when the grid is read.
            "epochs" => self.epochs = x as usize,
            other => unreachable!("`{other}` is no switch's fallback"),
        }
    }
}

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExperiment {
    name: String,
    data: DataSpec,
    #[serde(default)]
    backbone: Option<BackboneSpec>,
    #[serde(default)]
    train: TrainSpec,
    #[serde(default)]
    finetune: Option<FinetuneSpec>,
    grid: GridSpec,
    /// Absent: the thread's claims; `claims = []`: none.
    #[serde(default)]
    claims: Option<Vec<Claim>>,
    #[serde(default)]
    report: ReportSpec,
}

impl Experiment {
    /// Reads and validates an experiment file.
    pub fn load(path: &Path) -> Result<Self, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml_str(&text, path)
    }

    /// Parses and validates experiment text; `path` is only used in messages and as [`Experiment::source`].
    pub fn from_toml_str(text: &str, path: &Path) -> Result<Self, SpecError> {
        let raw: RawExperiment = toml::from_str(text).map_err(|err| SpecError::Parse {
            path: path.to_owned(),
            // toml's message spans several lines (a caret under the key); one line reads better in logs.
            message: one_line(&err.to_string()),
        })?;
        Self::from_raw(raw, path)
    }

    /// Rebuilds an experiment from its JSON form (the `experiment` of a results manifest), e.g. to
    /// list a results folder's cells without the original file. Claims are not part of it.
    pub fn from_json(value: &serde_json::Value, path: &Path) -> Result<Self, SpecError> {
        let raw: RawExperiment =
            serde_json::from_value(value.clone()).map_err(|err| SpecError::Parse {
                path: path.to_owned(),
                message: err.to_string(),
            })?;
        Self::from_raw(raw, path)
    }

    fn from_raw(raw: RawExperiment, path: &Path) -> Result<Self, SpecError> {
        let claims_declared = raw.claims.is_some();
        let mut experiment = Experiment {
            name: raw.name,
            data: raw.data,
            backbone: raw.backbone,
            train: raw.train,
            finetune: raw.finetune,
            grid: raw.grid,
            claims: raw.claims.unwrap_or_default(),
            claims_declared,
            unmeasured: Vec::new(),
            report: raw.report,
            source: path.to_owned(),
        };
        experiment.validate()?;
        // Fine-tuning cells record the settings they trained with (the hash covers them).
        if experiment.finetune.is_none() && experiment.head_variants().iter().any(|v| v.finetuned())
        {
            experiment.finetune = Some(FinetuneSpec::default());
        }
        // The grid is valid now, so it can be expanded to see which default claims it measures.
        if !claims_declared {
            (experiment.claims, experiment.unmeasured) =
                measurable(thread_claims(), &experiment.grid);
        }
        Ok(experiment)
    }

    fn validate(&self) -> Result<(), SpecError> {
        let invalid = |key: &str, problem: String| SpecError::Invalid {
            path: self.source.clone(),
            key: key.to_string(),
            problem,
        };
        let name_ok = !self.name.is_empty()
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && !self.name.starts_with('.');
        if !name_ok {
            return Err(invalid(
                "name",
                format!(
                    "is {:?}; it names the results folder, so use letters, digits, '-', '_' or '.'",
                    self.name
                ),
            ));
        }

        self.validate_data(&invalid)?;

        let t = &self.train;
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

        self.validate_grid(&invalid)?;
        self.validate_finetune(&invalid)?;
        let variants = self.head_variants();
        for h in &self.report.highlight {
            let matched = variants.iter().filter(|v| h.variant.matches(v)).count();
            if matched != 1 {
                return Err(invalid(
                    "report.highlight",
                    format!(
                        "`{}` ({}) matches {matched} variants of the grid; it must name exactly one",
                        h.label,
                        h.variant.describe()
                    ),
                ));
            }
        }
        self.validate_claims()
    }

    fn validate_claims(&self) -> Result<(), SpecError> {
        let variants = self.head_variants();
        for (i, claim) in self.claims.iter().enumerate() {
            let bad = |problem: String| SpecError::Claim {
                path: self.source.clone(),
                id: if claim.id.is_empty() {
                    format!("#{}", i + 1)
                } else {
                    claim.id.clone()
                },
                problem,
            };
            if claim.id.is_empty()
                || !claim
                    .id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
            {
                return Err(bad(
                    "`id` must be letters, digits, '-' or '_' (it names files)".into(),
                ));
            }
            if self.claims[..i].iter().any(|c| c.id == claim.id) {
                return Err(bad("`id` is used by an earlier claim".into()));
            }
            for (side, selector) in [("a", &claim.a), ("b", &claim.b)] {
                if !variants.iter().any(|v| selector.matches(v)) {
                    return Err(bad(format!(
                        "`{side}` ({}) matches no head variant of the grid",
                        selector.describe()
                    )));
                }
            }
            if let Some(v) = variants
                .iter()
                .find(|v| claim.a.matches(v) && claim.b.matches(v))
            {
                return Err(bad(format!(
                    "`a` and `b` both match {}; a contrast needs two disjoint sets",
                    v.name()
                )));
            }
            if claim.pairs(&variants).is_empty() {
                return Err(bad(
                    "no `a` variant has a `b` variant that differs only in the switches the claim names"
                        .into(),
                ));
            }
            if let Some(sizes) = &claim.train_per_class {
                if sizes.is_empty() {
                    return Err(bad("`train_per_class` must list at least one size".into()));
                }
                if let Some(n) = sizes
                    .iter()
                    .find(|n| !self.grid.train_per_class.contains(n))
                {
                    return Err(bad(format!(
                        "`train_per_class` lists {n}, which is not in `grid.train_per_class`"
                    )));
                }
            }
            if !(claim.rope.is_finite() && claim.rope > 0.0) {
                return Err(bad(format!("`rope` must be > 0, got {}", claim.rope)));
            }
            if claim.expect == Expect::Identical && claim.compare != crate::Compare::All {
                return Err(bad(
                    "`identical` compares every pair; `compare` must be left at \"all\"".into(),
                ));
            }
            if claim.expect == Expect::Identical
                && !(claim.loss_tolerance > 0.0 && claim.grad_tolerance > 0.0)
            {
                return Err(bad(
                    "`loss_tolerance` and `grad_tolerance` must be > 0".into()
                ));
            }
            if claim.loss_epochs.is_some() && claim.expect != Expect::Identical {
                return Err(bad(
                    "`loss_epochs` only applies to `expect = \"identical\"`".into(),
                ));
            }
        }
        Ok(())
    }

    fn validate_grid(&self, invalid: &impl Fn(&str, String) -> SpecError) -> Result<(), SpecError> {
        let g = &self.grid;
        for (i, block) in g.blocks().iter().enumerate() {
            let prefix = if i == 0 {
                "grid".to_string()
            } else {
                format!("grid.also[{}]", i - 1)
            };
            self.validate_block(block, &prefix, invalid)?;
        }
        check_axis(&g.train_per_class, "grid.train_per_class", invalid)?;
        check_axis(&g.seeds, "grid.seeds", invalid)?;
        if g.train_per_class.contains(&0) {
            return Err(invalid(
                "grid.train_per_class",
                "values must be at least 1".into(),
            ));
        }
        Ok(())
    }

    fn validate_block(
        &self,
        block: &GridBlock,
        prefix: &str,
        invalid: &impl Fn(&str, String) -> SpecError,
    ) -> Result<(), SpecError> {
        check_axis(&block.head, &format!("{prefix}.head"), invalid)?;
        for (&switch, axis) in &block.axes {
            let spec = switch.spec();
            let key = format!("{prefix}.{}", spec.key);
            for values in axis.lists() {
                check_axis(values, &key, invalid)?;
                for &value in values {
                    if value == Value::Unset {
                        return Err(invalid(&key, "values must be set".into()));
                    }
                    spec.check(value).map_err(|e| invalid(&key, e.0))?;
                }
            }
            if let Some(fallback) = spec.fallback
                && self.train.is_set(fallback)
            {
                return Err(invalid(
                    &key,
                    format!("and `train.{fallback}` are both set; keep one"),
                ));
            }
        }
        // The converged fit is full-batch and deterministic: a step budget or a per-step dropout
        // mask would be silently ignored.
        for variant in block.head_variants().iter().filter(|v| v.converged()) {
            for switch in [Switch::Lr, Switch::Epochs, Switch::InputDropout] {
                if variant.is_active(switch) {
                    return Err(invalid(
                        &format!("{prefix}.{}", switch.key()),
                        format!(
                            "means nothing with `fit = \"lbfgs\"` (full-batch L-BFGS to \
                             convergence): sweep it in another block ({})",
                            variant.name()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Fine-tuning trains the backbone on images: it needs images, a backbone, and a fit that
    /// takes steps.
    fn validate_finetune(
        &self,
        invalid: &impl Fn(&str, String) -> SpecError,
    ) -> Result<(), SpecError> {
        let finetuned: Vec<HeadVariant> = self
            .head_variants()
            .into_iter()
            .filter(|v| v.finetuned())
            .collect();
        if let Some(f) = &self.finetune {
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
            if !self.data.needs_backbone() {
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

    fn validate_data(&self, invalid: &impl Fn(&str, String) -> SpecError) -> Result<(), SpecError> {
        match (&self.data, &self.backbone) {
            (DataSpec::Features { .. }, Some(_)) => {
                return Err(invalid(
                    "backbone",
                    "has no effect with data.kind = \"features\"; remove it".into(),
                ));
            }
            (data, None) if data.needs_backbone() => {
                return Err(invalid(
                    "backbone",
                    "is needed to turn images into features (arch, weights)".into(),
                ));
            }
            _ => {}
        }
        if let Some(b) = &self.backbone {
            if b.batch_size == 0 {
                return Err(invalid("backbone.batch_size", "must be at least 1".into()));
            }
            if b.image_size.is_some_and(|s| s < 32) {
                return Err(invalid(
                    "backbone.image_size",
                    format!("must be at least 32, got {}", b.image_size.unwrap_or(0)),
                ));
            }
        }
        match &self.data {
            DataSpec::Idx {
                classes,
                class_names,
                train_pool_per_class,
                val_per_class,
                test_per_class,
                ..
            } => {
                check_axis(classes, "data.classes", invalid)?;
                if let Some(names) = class_names
                    && names.len() != classes.len()
                {
                    return Err(invalid(
                        "data.class_names",
                        format!(
                            "names {} classes, `data.classes` lists {}",
                            names.len(),
                            classes.len()
                        ),
                    ));
                }
                if *train_pool_per_class == 0 {
                    return Err(invalid(
                        "data.train_pool_per_class",
                        "must be at least 1".into(),
                    ));
                }
                if *val_per_class == 0 {
                    return Err(invalid("data.val_per_class", "must be at least 1".into()));
                }
                if *test_per_class == Some(0) {
                    return Err(invalid(
                        "data.test_per_class",
                        "must be at least 1 (leave it out for no test split)".into(),
                    ));
                }
                if let Some(&n) = self
                    .grid
                    .train_per_class
                    .iter()
                    .find(|&&n| n > *train_pool_per_class)
                {
                    return Err(invalid(
                        "grid.train_per_class",
                        format!(
                            "asks for {n} per class, more than `data.train_pool_per_class` = {train_pool_per_class}"
                        ),
                    ));
                }
            }
            DataSpec::ImageFolder {
                val_fraction,
                test_fraction,
                ..
            } => check_fractions(*val_fraction, *test_fraction, invalid)?,
            DataSpec::Csv(csv) => {
                if csv.labels().is_none() {
                    return Err(invalid(
                        "data.label_column",
                        "give exactly one of `label_column` and `one_hot_columns`".into(),
                    ));
                }
                check_fractions(Some(csv.val_fraction), csv.test_fraction, invalid)?;
            }
            DataSpec::Features { .. } => {}
        }
        Ok(())
    }

    /// Every cell of the grid, in a fixed order: training size, then seed, then head variant.
    /// Grouping by (size, seed) keeps the variants that are compared pairwise next to each other.
    pub fn cells(&self) -> Vec<Cell> {
        let variants = self.head_variants();
        let mut cells = Vec::new();
        for &train_per_class in &self.grid.train_per_class {
            for &seed in &self.grid.seeds {
                for &head in &variants {
                    cells.push(Cell {
                        head,
                        train_per_class,
                        seed,
                    });
                }
            }
        }
        cells
    }

    /// The distinct head variants, in grid order (see [`GridSpec::head_variants`]).
    pub fn head_variants(&self) -> Vec<HeadVariant> {
        self.grid.head_variants()
    }

    /// A short hash of everything that determines the numbers: data source, training settings, grid.
    /// Results from a different hash are never mixed into a results folder.
    pub fn config_hash(&self) -> String {
        let canonical = serde_json::to_vec(self).expect("an Experiment always serializes");
        let digest = Sha256::digest(&canonical);
        hex::encode(&digest[..8])
    }
}

/// The held-out fractions of a split made here: each in (0, 1), and together leaving a training set.
fn check_fractions(
    val: Option<f64>,
    test: Option<f64>,
    invalid: &impl Fn(&str, String) -> SpecError,
) -> Result<(), SpecError> {
    for (key, f) in [("data.val_fraction", val), ("data.test_fraction", test)] {
        if let Some(f) = f
            && !(f > 0.0 && f < 1.0)
        {
            return Err(invalid(key, format!("must be in (0, 1), got {f}")));
        }
    }
    if let (Some(v), Some(t)) = (val, test)
        && v + t >= 1.0
    {
        return Err(invalid(
            "data.test_fraction",
            format!("{t} with `data.val_fraction` = {v} leaves no training images"),
        ));
    }
    Ok(())
}

fn check_axis<T: PartialEq + std::fmt::Display>(
    values: &[T],
    key: &str,
    invalid: &impl Fn(&str, String) -> SpecError,
) -> Result<(), SpecError> {
    if values.is_empty() {
        return Err(invalid(key, "must list at least one value".into()));
    }
    for (i, v) in values.iter().enumerate() {
        if values[..i].contains(v) {
            return Err(invalid(key, format!("lists {v} twice")));
        }
    }
    Ok(())
}

fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        // Drop the source excerpt (`2 | [data`) and caret lines; keep the position and the message.
        .filter(|l| !l.is_empty() && !l.contains('|'))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::switch::Switch;

    const BASE: &str = r#"
name = "t"
[data]
kind = "features"
path = "f.safetensors"
[grid]
head = ["mlp", "linear"]
bias_before_bn = [true, false]
relu = [true, false]
dropout = [0.0, 0.25, 0.5]
last_bias = [true]
train_per_class = [25, 100, 1000]
seeds = [0, 1, 2, 3, 4]
"#;

    fn parse(text: &str) -> Result<Experiment, SpecError> {
        Experiment::from_toml_str(text, Path::new("exp.toml"))
    }

    #[test]
    fn forum_grid_counts_cells_per_head() {
        let e = parse(BASE).unwrap();
        // mlp: 2 bias x 2 relu x 3 dropout = 12 variants; linear: 1. Times 3 sizes x 5 seeds.
        assert_eq!(e.head_variants().len(), 13);
        assert_eq!(e.cells().len(), 13 * 15);
        let ids: std::collections::BTreeSet<String> = e.cells().iter().map(Cell::id).collect();
        assert_eq!(ids.len(), e.cells().len(), "cell ids are unique");
    }

    /// `[[grid.also]]`: a block adds its own product, shares sizes and seeds, repeats nothing; a
    /// grid without blocks hashes as before blocks existed.
    #[test]
    fn grid_blocks_add_their_products_once() {
        let blocks = BASE.to_string()
            + r#"
[[grid.also]]
head = ["mlp"]
lr = [0.0003, 0.003]

[[grid.also]]
head = ["linear"]
fit = ["lbfgs"]
weight_decay = [0.0, 0.01]

[[grid.also]]
head = ["linear"]
"#;
        let e = parse(&blocks).unwrap();
        // 13 main variants; +2 mlp at other learning rates; +2 converged linear; the last block's
        // linear is the main grid's again.
        assert_eq!(e.head_variants().len(), 13 + 2 + 2);
        let names: Vec<String> = e.head_variants().iter().map(HeadVariant::name).collect();
        assert!(names.contains(&"mlp-bias1-relu1-drop0-last1-lr0.003".to_string()));
        assert!(names.contains(&"linear-last1-wd0.01-lbfgs".to_string()));
        assert_eq!(e.cells().len(), 17 * 15);
        assert_ne!(e.config_hash(), parse(BASE).unwrap().config_hash());
        // The canonical form without blocks has no `also` key.
        let json = serde_json::to_value(&parse(BASE).unwrap().grid).unwrap();
        assert!(json.get("also").is_none(), "{json}");
        // Read back from its canonical JSON, the grid is the same.
        let json = serde_json::to_value(&e).unwrap();
        let round = Experiment::from_json(&json, Path::new("m.json")).unwrap();
        assert_eq!(round.head_variants(), e.head_variants());
        assert_eq!(round.config_hash(), e.config_hash());
    }

    /// Bad blocks are refused with the key at fault.
    #[test]
    fn bad_grid_blocks_name_the_key() {
        let cases: &[(&str, &str)] = &[
            (
                "head = [\"mlp\"]\nseeds = [0]",
                "shares the grid's `train_per_class` and `seeds`",
            ),
            ("head = [\"mlp\"]\nwarmup = [1]", "unknown field `warmup`"),
            ("relu = [false]", "missing field `head`"),
            (
                "head = [\"linear\"]\nfit = [\"lbfgs\"]\nlr = [0.01]",
                "grid.also[0].lr",
            ),
            (
                "head = [\"linear\"]\nfit = [\"lbfgs\"]\ninput_dropout = [0.2]",
                "grid.also[0].input_dropout",
            ),
            ("head = [\"mlp\"]\nepochs = [2.5]", "grid.also[0].epochs"),
            ("head = [\"mlp\"]\nlr = [0.0]", "grid.also[0].lr"),
        ];
        for (block, expected) in cases {
            let text = format!("{BASE}\n[[grid.also]]\n{block}\n");
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains(expected), "{block}: {err}");
        }
    }

    #[test]
    fn dropout_position_axis_multiplies_only_real_dropout() {
        let e = parse(&BASE.replace(
            "last_bias = [true]",
            "last_bias = [true]\ndropout_position = [\"after_bn\", \"before_bn\"]",
        ))
        .unwrap();
        // 2 bias x 2 relu x (dropout 0 once + 2 rates x 2 positions) + linear.
        assert_eq!(e.head_variants().len(), 2 * 2 * (1 + 2 * 2) + 1);
        // The default is left out of the hash: the grid without the key hashes as before.
        let plain = parse(BASE).unwrap();
        let explicit = parse(&BASE.replace(
            "last_bias = [true]",
            "last_bias = [true]\ndropout_position = [\"after_bn\"]",
        ))
        .unwrap();
        assert_eq!(plain.config_hash(), explicit.config_hash());
        let err = parse(&BASE.replace(
            "last_bias = [true]",
            "last_bias = [true]\ndropout_position = [\"middle\"]",
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("middle") && err.contains("line"), "{err}");
    }

    #[test]
    fn input_dropout_multiplies_both_heads_and_keeps_old_hashes() {
        let e = parse(&BASE.replace(
            "last_bias = [true]",
            "last_bias = [true]\ninput_dropout = [0.2, 0.0]",
        ))
        .unwrap();
        assert_eq!(e.head_variants().len(), 13 * 2);
        let explicit = parse(&BASE.replace(
            "last_bias = [true]",
            "last_bias = [true]\ninput_dropout = [0.0]",
        ))
        .unwrap();
        assert_eq!(explicit.config_hash(), parse(BASE).unwrap().config_hash());
        let err = parse(&BASE.replace(
            "last_bias = [true]",
            "last_bias = [true]\ninput_dropout = [1.0]",
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("grid.input_dropout"), "{err}");
    }

    #[test]
    fn weight_decay_axis_multiplies_both_heads_and_is_set_once() {
        let e = parse(&BASE.replace(
            "last_bias = [true]",
            "last_bias = [true]\nweight_decay = [0.0, 1e-4, 1e-2]",
        ))
        .unwrap();
        assert_eq!(e.head_variants().len(), 13 * 3);
        assert!(
            e.cells()
                .iter()
                .any(|c| c.id() == "linear-last1-wd0.0001-n25-s0")
        );
        let cases: &[(&str, &[&str])] = &[
            ("weight_decay = [-1.0]", &["grid.weight_decay", ">= 0"]),
            ("weight_decay = [0.1, 0.1]", &["grid.weight_decay", "twice"]),
        ];
        for (axis, needles) in cases {
            let err =
                parse(&BASE.replace("last_bias = [true]", &format!("last_bias = [true]\n{axis}")))
                    .unwrap_err()
                    .to_string();
            for needle in *needles {
                assert!(err.contains(needle), "{axis}: {err}");
            }
        }
        // Per head: a wide sweep for the cheap linear head, none for the mlp; the hash of a shared
        // list is the hash of the same list written as before per-head values existed.
        let per_head = parse(&BASE.replace(
            "last_bias = [true]",
            "last_bias = { linear = [true, false] }\nweight_decay = { linear = [0.0, 1e-4, 1e-2] }",
        ))
        .unwrap();
        let variants = per_head.head_variants();
        assert_eq!(variants.len(), 12 + 2 * 3);
        assert!(variants[..12].iter().all(|v| v.weight_decay().is_none()));
        assert!(
            per_head
                .cells()
                .iter()
                .any(|c| c.id() == "linear-last0-wd0.01-n25-s0")
        );
        let shared = parse(&BASE.replace(
            "last_bias = [true]",
            "last_bias = [true]\ninput_dropout = [0.2]",
        ))
        .unwrap();
        assert_eq!(
            serde_json::to_value(&shared.grid.axes[&Switch::InputDropout]).unwrap(),
            serde_json::json!([0.2])
        );
        assert_eq!(
            serde_json::to_value(&per_head.grid.axes[&Switch::WeightDecay]).unwrap(),
            serde_json::json!({ "linear": [0.0, 1e-4, 1e-2] })
        );
        let err = parse(&BASE.replace(
            "last_bias = [true]",
            "last_bias = [true]\nweight_decay = { linear = [-0.1] }",
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("grid.weight_decay") && err.contains(">= 0"),
            "{err}"
        );
        let err = parse(&BASE.replace(
            "last_bias = [true]",
            "last_bias = [true]\nweight_decay = { conv = [0.1] }",
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("line 12") && err.contains("unknown head `conv`"),
            "{err}"
        );
        let both = BASE
            .replace(
                "last_bias = [true]",
                "last_bias = [true]\nweight_decay = [0.1]",
            )
            .replace("[grid]", "[train]\nweight_decay = 0.5\n[grid]");
        assert!(parse(&both).unwrap_err().to_string().contains("keep one"));
    }

    #[test]
    fn defaults_are_pytorch_adam() {
        let e = parse(BASE).unwrap();
        assert_eq!(e.train, TrainSpec::default());
        assert_eq!(e.train.eps, 1e-8);
    }

    #[test]
    fn json_form_round_trips() {
        let e = parse(BASE).unwrap();
        let json = serde_json::to_value(&e).unwrap();
        let back = Experiment::from_json(&json, Path::new("manifest.json")).unwrap();
        assert_eq!(back.config_hash(), e.config_hash());
        assert_eq!(back.cells(), e.cells());
    }

    #[test]
    fn config_hash_follows_content() {
        let a = parse(BASE).unwrap();
        let b = parse(&BASE.replace("seeds = [0, 1, 2, 3, 4]", "seeds = [0, 1]")).unwrap();
        assert_eq!(a.config_hash(), parse(BASE).unwrap().config_hash());
        assert_ne!(a.config_hash(), b.config_hash());
    }

    const CLAIMS: &str = r#"
[[claims]]
id = "A"
says = "a bias right before BN is useless"
a = { bias_before_bn = true, relu = false }
b = { bias_before_bn = false, relu = false }
expect = "identical"

[[claims]]
id = "D"
says = "model2 can win on validation"
a = { head = "linear" }
b = { head = "mlp" }
expect = "higher"
compare = "best"
train_per_class = [25]
"#;

    #[test]
    fn claims_are_read_checked_and_left_out_of_the_hash() {
        let plain = parse(BASE).unwrap();
        let e = parse(&format!("{BASE}{CLAIMS}")).unwrap();
        assert_eq!(e.claims.len(), 2);
        assert_eq!(e.claims[1].compare, crate::Compare::Best);
        assert_eq!(e.claims[0].metric, crate::Metric::ValAcc);
        assert_eq!(e.config_hash(), plain.config_hash());
        assert_eq!(e.claims[0].loss_epochs, None, "every epoch by default");
        let first = parse(&format!("{BASE}{CLAIMS}").replace(
            "expect = \"identical\"",
            "expect = \"identical\"\nloss_epochs = 1",
        ))
        .unwrap();
        assert_eq!(first.claims[0].loss_epochs, Some(1));

        let cases: &[(&str, &str, &[&str])] = &[
            ("id = \"D\"", "id = \"A\"", &["claim `A`", "earlier"]),
            ("id = \"D\"", "id = \"D/1\"", &["`id`"]),
            (
                "b = { head = \"mlp\" }",
                "b = { head = \"mlp\", dropout = 0.3 }",
                &["claim `D`", "`b`", "dropout=0.3", "matches no head variant"],
            ),
            (
                "b = { head = \"mlp\" }",
                "b = { last_bias = true }",
                &["claim `D`", "both match linear-last1"],
            ),
            (
                "train_per_class = [25]",
                "train_per_class = [50]",
                &["claim `D`", "50"],
            ),
            ("expect = \"higher\"", "expect = \"bigger\"", &["bigger"]),
            (
                "compare = \"best\"",
                "compare = \"best\"\nsign = 1",
                &["sign"],
            ),
            (
                "compare = \"best\"",
                "compare = \"best\"\nloss_epochs = 1",
                &["claim `D`", "`loss_epochs`", "identical"],
            ),
        ];
        for (from, to, needles) in cases {
            let text = format!("{BASE}{CLAIMS}");
            assert!(text.contains(from), "case edits missing text {from:?}");
            let err = parse(&text.replacen(from, to, 1))
                .expect_err(to)
                .to_string();
            assert!(!err.contains('\n'), "error is one line: {err}");
            for needle in *needles {
                assert!(err.contains(needle), "{to:?}: {err:?} lacks {needle:?}");
            }
        }
    }

    /// An image experiment that fine-tunes: the regime is an axis, `[finetune]` is checked and
    /// hashed, and what cannot fine-tune is refused at its key.
    #[test]
    fn finetuning_is_an_axis_with_its_own_settings() {
        const IMAGES: &str = r#"
name = "ft"
[data]
kind = "idx"
path = "/usr/share/datasets/fashion-mnist"
classes = [0, 2]
train_pool_per_class = 100
val_per_class = 10
[backbone]
arch = "efficientnet-lite0"
weights = "w.pth"
image_size = 64
[grid]
head = ["mlp", "linear"]
backbone = ["frozen", "finetune"]
train_per_class = [25]
seeds = [0]
"#;
        let e = parse(IMAGES).unwrap();
        let names: Vec<String> = e.head_variants().iter().map(|v| v.name()).collect();
        assert_eq!(
            names,
            [
                "mlp-bias1-relu1-drop0-last1",
                "mlp-bias1-relu1-drop0-last1-ft",
                "linear-last1",
                "linear-last1-ft"
            ]
        );
        assert_eq!(
            e.finetune,
            Some(FinetuneSpec::default()),
            "defaults recorded"
        );
        let tuned =
            parse(&IMAGES.replace("[grid]", "[finetune]\nbackbone_lr = 1e-5\n[grid]")).unwrap();
        assert_ne!(
            tuned.config_hash(),
            e.config_hash(),
            "the backbone's lr is hashed"
        );
        let frozen = parse(&IMAGES.replace("backbone = [\"frozen\", \"finetune\"]\n", "")).unwrap();
        assert_eq!(frozen.finetune, None);

        let cases: &[(&str, &str, &[&str])] = &[
            (
                "[grid]",
                "[finetune]\nfreeze_stages = 8\n[grid]",
                &["finetune.freeze_stages", "7 stages"],
            ),
            (
                "[grid]",
                "[finetune]\ndrop_connect = 1.0\n[grid]",
                &["finetune.drop_connect"],
            ),
            (
                "[grid]",
                "[finetune]\nbackbone_lr = 0\n[grid]",
                &["finetune.backbone_lr"],
            ),
            (
                "[grid]\nhead = [\"mlp\", \"linear\"]\nbackbone = [\"frozen\", \"finetune\"]",
                "[finetune]\nbackbone_lr = 1e-5\n[grid]\nhead = [\"mlp\", \"linear\"]",
                &["`finetune`", "no effect"],
            ),
            (
                "backbone = [\"frozen\", \"finetune\"]",
                "backbone = [\"frozen\", \"thawed\"]",
                &["`backbone`", "thawed", "finetune"],
            ),
            (
                "train_per_class = [25]",
                "fit = { linear = [\"lbfgs\"] }\ntrain_per_class = [25]",
                &["grid.fit", "lbfgs", "linear-last1-lbfgs-ft"],
            ),
            (
                "image_size = 64",
                "image_size = 16",
                &["backbone.image_size", "at least 32"],
            ),
        ];
        for (from, to, needles) in cases {
            assert!(IMAGES.contains(from), "case edits missing text {from:?}");
            let err = parse(&IMAGES.replacen(from, to, 1))
                .expect_err(to)
                .to_string();
            assert!(!err.contains('\n'), "error is one line: {err}");
            for needle in *needles {
                assert!(err.contains(needle), "{to:?}: {err:?} lacks {needle:?}");
            }
        }
        // Features only: nothing to fine-tune.
        let err = parse(&BASE.replace(
            "seeds = [0, 1, 2, 3, 4]",
            "seeds = [0]\nbackbone = [\"finetune\"]",
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("grid.backbone") && err.contains("features only"),
            "{err}"
        );
    }

    /// No `[[claims]]`: the thread's claims the grid can measure; `claims = []`: none.
    #[test]
    fn without_claims_the_thread_claims_are_judged() {
        let defaults = parse(BASE).unwrap();
        assert!(!defaults.claims_declared);
        let ids: Vec<&str> = defaults.claims.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["A", "B", "C", "D", "E"]);
        assert!(defaults.unmeasured.is_empty());
        let none = parse(&BASE.replacen("[data]", "claims = []\n[data]", 1)).unwrap();
        assert!(none.claims_declared && none.claims.is_empty());
        let narrow = parse(&BASE.replace("relu = [true, false]", "relu = [true]")).unwrap();
        assert_eq!(narrow.unmeasured.len(), 1);
        assert_eq!(narrow.unmeasured[0].id, "A");
        assert!(narrow.unmeasured[0].add.contains("`grid.relu`"));
        let highlight = |variant: &str| {
            parse(&format!(
                "{BASE}[report]\nhighlight = [{{ label = \"mine\", variant = {variant} }}]\n"
            ))
        };
        assert!(highlight("{ head = \"linear\" }").is_ok());
        let err = highlight("{ head = \"mlp\", relu = true }")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("report.highlight") && err.contains("matches 6 variants"),
            "{err}"
        );
        let titled = parse(&format!("{BASE}[report]\ntitle = \"Mine\"\n")).unwrap();
        assert_eq!(titled.report.title.as_deref(), Some("Mine"));
        assert_eq!(titled.config_hash(), defaults.config_hash());
    }

    const IDX: &str = r#"
name = "fm"
[data]
kind = "idx"
path = "/usr/share/datasets/fashion-mnist"
classes = [0, 2, 4, 6]
class_names = ["T-shirt/top", "Pullover", "Coat", "Shirt"]
train_pool_per_class = 1000
val_per_class = 500
[backbone]
arch = "efficientnet-lite0"
weights = "assets/efficientnet-lite0-57934424.pth"
[grid]
head = ["linear"]
train_per_class = [25, 1000]
"#;

    #[test]
    fn image_data_needs_a_backbone_and_consistent_counts() {
        let e = parse(IDX).unwrap();
        assert!(matches!(&e.data, DataSpec::Idx { classes, .. } if classes == &[0, 2, 4, 6]));
        assert_eq!(e.backbone.as_ref().unwrap().batch_size, 32);
        let cases: &[(&str, &str, &[&str])] = &[
            (
                "[backbone]\narch = \"efficientnet-lite0\"\nweights = \"assets/efficientnet-lite0-57934424.pth\"\n",
                "",
                &["`backbone`", "needed"],
            ),
            (
                "class_names = [\"T-shirt/top\", \"Pullover\", \"Coat\", \"Shirt\"]",
                "class_names = [\"a\"]",
                &["data.class_names"],
            ),
            (
                "train_per_class = [25, 1000]",
                "train_per_class = [25, 1001]",
                &["grid.train_per_class", "1001"],
            ),
            (
                "classes = [0, 2, 4, 6]",
                "classes = [0, 2, 2, 6]",
                &["data.classes", "twice"],
            ),
            (
                "val_per_class = 500",
                "val_per_class = 500\nval_fraction = 0.2",
                &["val_fraction"],
            ),
            (
                "val_per_class = 500",
                "val_per_class = 500\ntest_per_class = 0",
                &["data.test_per_class", "at least 1"],
            ),
            ("kind = \"idx\"", "kind = \"mnist\"", &["mnist"]),
            (
                "arch = \"efficientnet-lite0\"",
                "arch = \"efficientnet-lite0\"\nbatch_size = 0",
                &["backbone.batch_size"],
            ),
        ];
        for (from, to, needles) in cases {
            assert!(IDX.contains(from), "case edits missing text {from:?}");
            let err = parse(&IDX.replacen(from, to, 1)).expect_err(to).to_string();
            for needle in *needles {
                assert!(err.contains(needle), "{to:?}: {err:?} lacks {needle:?}");
            }
        }
        let with_backbone = BASE.replace(
            "[grid]",
            "[backbone]\narch = \"efficientnet-b0\"\nweights = \"w.pth\"\n[grid]",
        );
        assert!(
            parse(&with_backbone)
                .unwrap_err()
                .to_string()
                .contains("no effect")
        );
    }

    /// Each bad input and the words its one-line error must contain.
    #[test]
    fn bad_inputs_name_the_key() {
        let cases: &[(&str, &str, &[&str])] = &[
            (
                "dropout = [0.0, 0.25, 0.5]",
                "dropout = [1.0]",
                &["grid.dropout", "[0, 1)"],
            ),
            (
                "dropout = [0.0, 0.25, 0.5]",
                "dropout = [-0.1]",
                &["grid.dropout"],
            ),
            (
                "seeds = [0, 1, 2, 3, 4]",
                "seeds = []",
                &["grid.seeds", "at least one"],
            ),
            (
                "seeds = [0, 1, 2, 3, 4]",
                "seeds = [1, 1]",
                &["grid.seeds", "twice"],
            ),
            (
                "train_per_class = [25, 100, 1000]",
                "train_per_class = [0]",
                &["grid.train_per_class"],
            ),
            (
                "head = [\"mlp\", \"linear\"]",
                "head = [\"mlp\", \"cnn\"]",
                &["unknown variant", "cnn"],
            ),
            (
                "last_bias = [true]",
                "last_bias = [true]\nlast_bais = [true]",
                &["last_bais", "line 12"],
            ),
            ("name = \"t\"", "name = \"a/b\"", &["`name`"]),
            ("[grid]", "[train]\nlr = -1\n[grid]", &["train.lr"]),
            (
                "[grid]",
                "[train]\nbatch_size = 1\n[grid]",
                &["train.batch_size"],
            ),
            ("[grid]", "[train]\nepochs = 0\n[grid]", &["train.epochs"]),
            (
                "[grid]",
                "[train]\noptimizer = \"rmsprop\"\n[grid]",
                &["rmsprop"],
            ),
            (
                "[grid]",
                "[train]\nweight_decay = -0.1\n[grid]",
                &["train.weight_decay"],
            ),
            ("[grid]", "[train]\nlr = 0.1\nlr2 = 3\n[grid]", &["lr2"]),
            ("name = \"t\"", "name = t", &["exp.toml", "line 2"]),
        ];
        for (from, to, needles) in cases {
            assert!(BASE.contains(from), "case edits missing text {from:?}");
            let err = parse(&BASE.replacen(from, to, 1))
                .expect_err(to)
                .to_string();
            assert!(!err.contains('\n'), "error is one line: {err}");
            assert!(err.starts_with("exp.toml"), "error names the file: {err}");
            for needle in *needles {
                assert!(err.contains(needle), "{to:?}: {err:?} lacks {needle:?}");
            }
        }
    }
}
