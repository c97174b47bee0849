use std::path::PathBuf;

/// Why a dataset could not be read; every variant names the file or folder at fault.
#[derive(Debug, thiserror::Error)]
pub enum ImagesError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {problem}")]
    Invalid { path: PathBuf, problem: String },
    #[error("cannot decode image {path}: {message}")]
    Decode { path: PathBuf, message: String },
}

pub(crate) fn read_error(
    path: &std::path::Path,
) -> impl FnOnce(std::io::Error) -> ImagesError + '_ {
    move |source| ImagesError::Read {
        path: path.to_owned(),
        source,
    }
}

pub(crate) fn invalid(path: &std::path::Path, problem: impl Into<String>) -> ImagesError {
    ImagesError::Invalid {
        path: path.to_owned(),
        problem: problem.into(),
    }
}
