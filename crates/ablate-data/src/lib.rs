//! Feature tables for `ablate`: the `[N, F]` matrices a backbone produced, their labels, and the
//! deterministic draws the paired design needs (nested stratified subsets, per-epoch batch orders).
//!
//! ```no_run
//! let features = ablate_data::FeatureSet::load("features.safetensors".as_ref()).unwrap();
//! // For one seed the 25-per-class subset is inside the 100-per-class one.
//! let small = features.train_subset(25, 0).unwrap();
//! let large = features.train_subset(100, 0).unwrap();
//! assert!(small.iter().all(|i| large.contains(i)));
//! ```

mod error;
mod features;
mod sampling;
mod synthetic;

pub use error::DataError;
pub use features::{FeatureSet, Split, Splits, meta, write_features};
pub use sampling::{epoch_order, stratified_subset};
pub use synthetic::{SyntheticSpec, synthetic_features};
