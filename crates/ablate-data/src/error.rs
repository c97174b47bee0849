use std::path::PathBuf;

/// Why a features file was refused; every variant names the file, and the tensor where one is at fault.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read features file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write features file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid safetensors file: {message}")]
    Format { path: PathBuf, message: String },
    #[error(
        "{path}: tensor `{tensor}` is missing (a features file holds train_x, train_y, val_x, val_y)"
    )]
    MissingTensor { path: PathBuf, tensor: &'static str },
    #[error("{path}: tensor `{tensor}` {problem}")]
    Tensor {
        path: PathBuf,
        tensor: &'static str,
        problem: String,
    },
    #[error(
        "{path}: class {class} has {available} training samples, fewer than the {requested} per class asked for (`grid.train_per_class`)"
    )]
    TooFewSamples {
        path: PathBuf,
        class: usize,
        available: usize,
        requested: usize,
    },
}
