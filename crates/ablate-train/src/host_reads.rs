//! Reads from the device to the host: the only points where training waits for the device.
//!
//! On flex a read is a copy; on a device backend (wgpu, cuda) it is a synchronisation: the host
//! stops until the device has run everything queued before it, and a small head's step is a few
//! microseconds of device work against tens of microseconds per sync. So the training loop and
//! the evaluation read through here, which lets `ablate bench` count the reads per epoch (a
//! handful: the epoch's losses and bias-gradient maxima in one read, one per evaluation chunk),
//! whatever the backend. Not counted: what a cell reads once or per fit evaluation outside them
//! (BatchNorm's variance ratio at the end, an L-BFGS line search's losses, a checkpoint's weights).

use std::sync::atomic::{AtomicUsize, Ordering};

use burn::tensor::Tensor;

/// Reads made so far by this process, from every thread.
static READS: AtomicUsize = AtomicUsize::new(0);

/// How many reads the training loop and the evaluation have made in this process so far.
pub fn host_reads() -> usize {
    READS.load(Ordering::Relaxed)
}

/// The values of a float vector on the host: one read.
pub(crate) fn read_floats(values: Tensor<1>) -> Vec<f32> {
    READS.fetch_add(1, Ordering::Relaxed);
    values
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("a float tensor converted to f32 reads back as f32")
}
