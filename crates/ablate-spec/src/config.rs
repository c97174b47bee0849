//! The part of an experiment that determines the numbers: data, backbone, training, fine-tuning and
//! the grid. It alone is hashed ([`Config::config_hash`]) and stored in a results manifest; claims
//! and report prose only read results and live beside it in [`crate::Experiment`].

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cell::Cell;
use crate::data::{self, BackboneSpec, DataSpec};
use crate::declared::DeclaredHeads;
use crate::error::SpecError;
use crate::finetune::{self, FinetuneSpec};
use crate::grid::GridSpec;
use crate::train::TrainSpec;
use crate::validate::Invalid;
use crate::variant::HeadVariant;

/// What trains: every field is validated ([`Config::validate`]) before a `Config` reaches a runner.
/// Field order and the skipped `None`s are the canonical form the hash is taken of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Heads the file declares beside the presets (`[heads.<word>]`). First, so that a manifest
    /// declares them before its grid names them; left out when there are none (the hashes of
    /// experiments without declared heads did not change).
    #[serde(
        default,
        skip_serializing_if = "DeclaredHeads::is_empty",
        deserialize_with = "crate::declared::deserialize_declared"
    )]
    pub heads: DeclaredHeads,
    pub name: String,
    pub data: DataSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backbone: Option<BackboneSpec>,
    #[serde(default)]
    pub train: TrainSpec,
    /// How `backbone = "finetune"` cells train the backbone; defaults when the grid fine-tunes
    /// and the file has no `[finetune]` (left out of the hash when nothing fine-tunes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finetune: Option<FinetuneSpec>,
    pub grid: GridSpec,
}

impl Config {
    /// Checks every section (errors name `source` and the key at fault), then fills in what a
    /// valid config implies: fine-tuning cells record the `[finetune]` settings they train with.
    pub(crate) fn validated(mut self, source: &Path) -> Result<Self, SpecError> {
        let invalid = |key: &str, problem: String| SpecError::Invalid {
            path: source.to_owned(),
            key: key.to_string(),
            problem,
        };
        self.validate(&invalid)?;
        if self.finetune.is_none() && self.head_variants().iter().any(|v| v.finetuned()) {
            self.finetune = Some(FinetuneSpec::default());
        }
        Ok(self)
    }

    fn validate(&self, invalid: &Invalid) -> Result<(), SpecError> {
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
        data::validate(
            &self.data,
            self.backbone.as_ref(),
            &self.grid.train_per_class,
            invalid,
        )?;
        self.train.validate(invalid)?;
        self.grid.validate(&self.train, invalid)?;
        finetune::validate(
            self.finetune.as_ref(),
            &self.data,
            &self.head_variants(),
            invalid,
        )
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
        let canonical = serde_json::to_vec(self).expect("a Config always serializes");
        let digest = Sha256::digest(&canonical);
        hex::encode(&digest[..8])
    }
}
