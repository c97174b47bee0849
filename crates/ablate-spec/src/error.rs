use std::path::PathBuf;

/// Why an experiment file was refused. Every variant names the file, and the key where one is at fault.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// Not `#[source]`: the message already says it, and a caller printing the chain would say it
    /// twice.
    #[error("cannot read experiment file {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// Syntax errors and unknown keys; toml's message carries the line, column and key.
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: `{key}` {problem}")]
    Invalid {
        path: PathBuf,
        key: String,
        problem: String,
    },
    #[error("{path}: claim `{id}`: {problem}")]
    Claim {
        path: PathBuf,
        id: String,
        problem: String,
    },
}
