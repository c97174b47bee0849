#[derive(Debug, thiserror::Error)]
pub enum FeaturesError {
    #[error(transparent)]
    Backbone(#[from] ablate_backbone::BackboneError),
    #[error(transparent)]
    Images(#[from] ablate_images::ImagesError),
    #[error(transparent)]
    Data(#[from] ablate_data::DataError),
    #[error("cannot read {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Spec(String),
}
