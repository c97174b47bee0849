//! Classifier heads as burn modules (`Config -> init -> forward`): any list of layers
//! ([`ablate_spec::Layer`]) as one [`SequentialHead`]; the thread's model1 and model2 and the
//! heads practitioners use beside them are presets of that list (`ablate_spec::HEADS`).
//!
//! Two things differ from burn-nn's stock layers, both for the paired comparison: weights are
//! drawn from a stream keyed by `(seed, layer name)` ([`keyed_linear`]), so variants share the
//! initial weights of the layers they share; and dropout takes its uniform draws from the caller
//! ([`PairedDropout`]), from a stream keyed by its layer, so variants trained with one seed see the
//! same masks. [`BatchNorm1d`] follows PyTorch, whose running variance is the unbiased batch
//! variance.
//!
//! ```
//! use ablate_heads::HeadConfig;
//! use ablate_spec::HeadVariant;
//! use burn::tensor::{Device, Tensor};
//!
//! let device = Device::flex();
//! let head = HeadConfig::of(&HeadVariant::mlp(), 8, 16, 4).init(0, &device);
//! let logits = head.forward(Tensor::<2>::zeros([3, 8], &device), None);
//! assert_eq!(logits.dims(), [3, 4]);
//! assert_eq!(head.trainable_params(), 8 * 16 + 16 + 2 * 16 + 16 * 4 + 4);
//! ```

mod batch_norm;
mod dropout;
mod init;
mod layers;
mod sequential;
mod stacked;

pub use batch_norm::{BatchNorm1d, BatchNorm1dConfig, BnOnRows, BnStats, variance_shift};
pub use dropout::{PairedDropout, keep_scale};
pub use init::keyed_linear;
pub use layers::HeadLayer;
pub use sequential::{DropoutDraws, HeadConfig, SequentialHead};
pub use stacked::{StackedDropout, StackedHead, stacking_pays};
