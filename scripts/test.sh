#!/usr/bin/env bash
# The whole test suite: unit, doc and integration tests of every crate, on the release profile
# (the same build the binary uses, so nothing is compiled twice), with the wgpu backend built in and
# its device tests run on a Vulkan device (Mesa's software lavapipe without a GPU), then the Slurm test.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
# The parity tests need the real lite0 weights; a missing asset fails the tests, so install it first.
bash scripts/assets.sh
bash scripts/vulkan.sh
# report.html's sortable tables are tested in a real headless browser.
bash scripts/chromium.sh
# Mesa wants a runtime folder; a CI shell may not have one.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
cargo test --release --workspace --locked --features ablate/wgpu "$@"
# The job-array path on a real one-node Slurm (installed and started by the script; fails loudly if
# it cannot start). Skipped only when a test filter is given, so `scripts/test.sh NAME` stays quick.
if [ $# -eq 0 ]; then
  cargo build --release --locked --features ablate/wgpu
  bash scripts/slurm-test.sh
fi
