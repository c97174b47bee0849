//! Integration tests of the `ablate` binary, one module per topic.

mod util;

mod bad_input;
mod determinism;
mod features;
mod report;
mod resume;
mod shards;
