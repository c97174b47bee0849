//! Atomic file writes: a reader, or a run killed mid-write, sees the old file or the new one, never half.

use std::io::Write;
use std::path::Path;

use crate::error::ResultsError;

/// Writes `bytes` to a temporary file beside `path`, flushes it to disk and renames it over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ResultsError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    // Results are shared (a cluster's filesystem, a web server): readable by all like a normal file,
    // not the 0600 of a temporary file.
    let mut builder = tempfile::Builder::new();
    builder.prefix(".tmp-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(ResultsError::io(path))?;
    tmp.write_all(bytes).map_err(ResultsError::io(path))?;
    tmp.as_file().sync_all().map_err(ResultsError::io(path))?;
    tmp.persist(path).map_err(|e| ResultsError::Io {
        path: path.to_owned(),
        source: e.error,
    })?;
    Ok(())
}
