//! Integration tests of the `ablate` binary, one module per topic.

mod util;

mod bad_input;
mod browser;
mod committed;
mod declared;
mod determinism;
#[cfg(feature = "wgpu")]
mod device;
mod features;
mod report;
mod resume;
mod shards;
mod stacked;

/// The device tests need a build with the wgpu feature (`scripts/test.sh` makes one): without it
/// they are not compiled, and this test's name says so in the test list.
#[cfg(not(feature = "wgpu"))]
#[test]
fn device_tests_skipped_build_with_features_ablate_wgpu() {
    eprintln!(
        "SKIPPED: the wgpu device tests (crates/ablate/tests/device.rs) need --features ablate/wgpu"
    );
}
