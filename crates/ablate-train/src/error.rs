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
}
