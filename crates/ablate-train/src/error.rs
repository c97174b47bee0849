/// Why a cell could not be trained.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(
        "cell {cell}: the training loss became {loss} at epoch {epoch}, step {step}; lower `train.lr`"
    )]
    Diverged {
        cell: String,
        epoch: usize,
        step: usize,
        loss: f32,
    },
    #[error(
        "class {class} has {available} training images, fewer than the {requested} per class asked for (`grid.train_per_class`)"
    )]
    TooFewImages {
        class: usize,
        available: usize,
        requested: usize,
    },
    #[error(transparent)]
    Backbone(#[from] ablate_backbone::BackboneError),
    #[error(transparent)]
    Data(#[from] ablate_data::DataError),
    #[error("cut cache {path}: {message}")]
    Cut {
        path: std::path::PathBuf,
        message: String,
    },
    #[error(transparent)]
    Checkpoint(#[from] ablate_record::CheckpointError),
}
