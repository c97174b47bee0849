use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid results file: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error(
        "{folder} holds results of another config (hash {found}, this experiment is {expected}); \
         rerun with --restart to discard them, or pick another --out"
    )]
    ConfigMismatch {
        folder: PathBuf,
        found: String,
        expected: String,
    },
    #[error("writing table {path}: {message}")]
    Table { path: PathBuf, message: String },
}

impl ResultsError {
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| ResultsError::Io {
            path: path.to_owned(),
            source,
        }
    }
}
