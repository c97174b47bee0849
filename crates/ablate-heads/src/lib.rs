//! The classifier heads of the forum thread as burn modules (`Config -> init -> forward`).
//!
//! - [`MlpHead`] (the thread's model1): `Linear(F->H, bias_before_bn) -> [ReLU] -> BatchNorm1d(H) ->
//!   Dropout(p) -> Linear(H->C, last_bias)`.
//! - [`LinearHead`] (model2): `Linear(F->C, last_bias)`.
//!
//! Two things differ from burn-nn's stock layers, both for the paired comparison:
//! weights are drawn from a stream keyed by `(seed, layer name)` ([`keyed_linear`]), so variants share
//! the initial weights of the layers they share; and dropout takes its uniform draws from the caller
//! ([`PairedDropout`]), so variants trained with one seed see the same masks. [`BatchNorm1d`] follows
//! PyTorch, whose running variance is the unbiased batch variance.
//!
//! ```
//! use ablate_heads::{HeadConfig, MlpHeadConfig};
//! use burn::tensor::{Device, Tensor};
//!
//! let device = Device::flex();
//! let head = HeadConfig::Mlp(MlpHeadConfig::new(8, 16, 4)).init(0, &device);
//! let logits = head.forward(Tensor::<2>::zeros([3, 8], &device), None);
//! assert_eq!(logits.dims(), [3, 4]);
//! assert_eq!(head.trainable_params(), 8 * 16 + 16 + 2 * 16 + 16 * 4 + 4);
//! ```

mod batch_norm;
mod dropout;
mod head;
mod init;
mod linear_head;
mod mlp;

pub use batch_norm::{BatchNorm1d, BatchNorm1dConfig, BnOnRows, BnStats};
pub use dropout::PairedDropout;
pub use head::{Head, HeadConfig, HeadModel};
pub use init::keyed_linear;
pub use linear_head::{LinearHead, LinearHeadConfig};
pub use mlp::{MlpHead, MlpHeadConfig};
