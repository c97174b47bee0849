//! Images -> backbone features, once: [`extract`] runs the backbone over a dataset in batches and writes
//! a features file (the layout `kind = "features"` reads, plus provenance metadata); [`cache_path`] names
//! it by a key over everything that determines it (weights bytes, dataset bytes, the `[data]` and
//! `[backbone]` sections, preprocessing), so `ablate run` extracts once and reuses the file after.
//!
//! ```no_run
//! # fn demo(experiment: &ablate_spec::Experiment) -> Result<(), ablate_features::FeaturesError> {
//! let device = burn::tensor::Device::flex();
//! let plan = ablate_features::Plan::new(experiment)?;
//! let path = plan.cache_path("assets/features".as_ref());
//! if !path.exists() {
//!     ablate_features::extract(&plan, &path, &device, &|done| eprintln!("{done} images"))?;
//! }
//! # Ok(()) }
//! ```

mod error;
mod extract;
mod plan;

pub use error::FeaturesError;
pub use extract::extract;
pub use plan::Plan;
