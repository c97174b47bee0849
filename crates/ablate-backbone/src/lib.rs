//! EfficientNet (b0-b7 with squeeze-excitation and swish; lite0-lite4 with ReLU6) in burn, for
//! inference and for fine-tuning (batch-statistics BatchNorm with PyTorch's running averages,
//! lukemelas' drop-connect, frozen stages),
//! loaded from the PyTorch weight files people use (lukemelas' `efficientnet_pytorch` names; the legacy
//! and the zip `.pth` formats).
//!
//! The architectures are data ([`arch::ARCHS`], [`arch::BASE_STAGES`]): one stage table, per-model
//! coefficients, and the scaling rules; the two families are rows, not copies.
//!
//! ```no_run
//! use ablate_backbone::{Arch, load};
//! use burn::tensor::{Device, Tensor};
//!
//! let device = Device::flex();
//! let arch = Arch::from_name("efficientnet-lite0").unwrap();
//! let (model, report) = load(&arch, "assets/efficientnet-lite0-57934424.pth".as_ref(), &device).unwrap();
//! let images = Tensor::<4>::zeros([1, 3, 224, 224], &device);
//! let features = model.forward_features(images); // [1, 1280]
//! ```

mod act;
pub mod arch;
mod cost;
mod error;
mod imagenet;
mod load;
mod mbconv;
mod model;
mod norm;
mod pretrained;
mod top;

pub use act::Act;
pub use arch::Arch;
pub use cost::{ForwardCost, Part};
pub use error::BackboneError;
pub use imagenet::imagenet_class_name;
pub use load::{LoadReport, load};
pub use mbconv::MbConv;
pub use model::EfficientNet;
pub use pretrained::Pretrained;
pub use top::BackboneTop;
