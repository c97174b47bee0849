//! A fine-tuning cell's state in and out of a [`CheckpointStore`]: the network and the optimizer
//! serialized as burnpack bytes in memory, so that where they are kept (a folder, in memory for a
//! test) is the store's business and training touches no file.

use ablate_record::{CellState, CheckpointStore, EpochLog};
use burn::optim::ModuleOptimizer;
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::Bytes;

use crate::error::TrainError;

fn error(store: &dyn CheckpointStore, message: impl std::fmt::Display) -> TrainError {
    TrainError::Checkpoint(ablate_record::CheckpointError {
        at: store.at(),
        message: message.to_string(),
    })
}

/// Saves the state after the epochs of `log`.
pub(crate) fn save(
    store: &dyn CheckpointStore,
    net: &impl ModuleSnapshot,
    optim: &ModuleOptimizer,
    log: &EpochLog,
) -> Result<(), TrainError> {
    let mut pack = BurnpackStore::from_bytes(None);
    net.save_into(&mut pack)
        .map_err(|e| error(store, format!("the network: {e}")))?;
    let model = pack
        .get_bytes()
        .map_err(|e| error(store, format!("the network: {e}")))?;
    let optimizer = optim
        .into_bytes()
        .map_err(|e| error(store, format!("the optimizer: {e}")))?;
    store.save(&CellState {
        log: log.clone(),
        model: model.to_vec(),
        optimizer: optimizer.to_vec(),
    })?;
    Ok(())
}

/// The saved state, loaded into `net` (built as for a fresh start) and `optim`, and what its
/// epochs recorded; `None` when the store has nothing to resume.
pub(crate) fn resume(
    store: &dyn CheckpointStore,
    net: &mut impl ModuleSnapshot,
    optim: ModuleOptimizer,
) -> Result<(ModuleOptimizer, Option<EpochLog>), TrainError> {
    let Some(state) = store.resume()? else {
        return Ok((optim, None));
    };
    let result = net
        .load_from(&mut BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(
            state.model,
        ))))
        .map_err(|e| error(store, format!("the network: {e}")))?;
    if !result.errors.is_empty() || !result.missing.is_empty() {
        return Err(error(
            store,
            format!(
                "does not fit this cell's network ({} errors, {} missing tensors)",
                result.errors.len(),
                result.missing.len()
            ),
        ));
    }
    let optim = optim
        .from_bytes(Bytes::from_bytes_vec(state.optimizer))
        .map_err(|e| error(store, format!("the optimizer: {e}")))?;
    Ok((optim, Some(state.log)))
}
