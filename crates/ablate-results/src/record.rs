//! The per-cell files: what produced a cell and its outcome (the outcome types are `ablate-record`'s).

use ablate_record::CellOutcome;
use ablate_spec::Cell;
use serde::{Deserialize, Serialize};

/// What produced a result: enough to tell whether two rows are comparable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    pub config_hash: String,
    pub features_sha256: String,
    /// sha256 of the backbone weights the features came from (empty for a ready features file).
    pub backbone_sha256: String,
    /// sha256 over the dataset's files (empty for a ready features file).
    pub dataset_sha256: String,
    /// `flex` or `cuda`.
    pub backend: String,
    pub ablate_version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellRecord {
    pub cell_id: String,
    pub cell: Cell,
    pub provenance: Provenance,
    pub outcome: CellOutcome,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedCell {
    pub cell_id: String,
    pub provenance: Provenance,
    pub error: String,
}
