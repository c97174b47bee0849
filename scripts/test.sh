#!/usr/bin/env bash
# The whole test suite: unit, doc and integration tests of every crate, on the release profile
# (the same build the binary uses, so nothing is compiled twice), then the Slurm test.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
# The parity tests need the real lite0 weights; a missing asset fails the tests, so install it first.
bash scripts/assets.sh
cargo test --release --workspace --locked "$@"
# The job-array path on a real one-node Slurm (installed and started by the script; fails loudly if
# it cannot start). Skipped only when a test filter is given, so `scripts/test.sh NAME` stays quick.
if [ $# -eq 0 ]; then
  cargo build --release --locked
  bash scripts/slurm-test.sh
fi
