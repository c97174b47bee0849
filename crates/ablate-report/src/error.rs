use std::path::{Path, PathBuf};

/// Why a report could not be written. Each names the file or the step at fault.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Input { path: PathBuf, message: String },
    #[error("{what}: {source}")]
    Table {
        what: &'static str,
        source: polars::error::PolarsError,
    },
    /// A value the report needs is missing from a table (a hand-edited or truncated CSV, say).
    #[error("column `{column}`, row {row}: no value where the report needs one")]
    Missing { column: String, row: usize },
    #[error("plot {file}: {message}")]
    Plot { file: String, message: String },
    #[error(transparent)]
    Results(#[from] ablate_results::ResultsError),
}

impl ReportError {
    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
        move |source| ReportError::Io {
            path: path.to_owned(),
            source,
        }
    }

    pub(crate) fn table(
        what: &'static str,
    ) -> impl FnOnce(polars::error::PolarsError) -> ReportError {
        move |source| ReportError::Table { what, source }
    }
}
