//! Atomic file writes (`ablate-record`'s, the one writer of the workspace), with the path in the error.

use std::path::Path;

use crate::error::ResultsError;

/// Writes `bytes` to `path` atomically: a reader, or a run killed mid-write, sees the old file or
/// the new one, never half.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ResultsError> {
    ablate_record::write_atomic(path, bytes).map_err(ResultsError::io(path))
}
