use std::path::PathBuf;

/// Why a backbone could not be built or loaded; each variant names the file, tensor or arch at fault.
#[derive(Debug, thiserror::Error)]
pub enum BackboneError {
    #[error("unknown architecture `{name}`; known: {known}")]
    UnknownArch { name: String, known: String },
    #[error("cannot read weights {path}: {message}")]
    Read { path: PathBuf, message: String },
    /// Strict loading: every tensor of the model must be in the file with its shape, and every tensor
    /// of the file must be used.
    #[error("weights {path} do not fit {arch}: {problems}")]
    Mismatch {
        path: PathBuf,
        arch: String,
        problems: String,
    },
}
