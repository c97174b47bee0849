#!/usr/bin/env bash
# The whole test suite: unit, doc and integration tests of every crate, on the release profile
# (the same build the binary uses, so nothing is compiled twice).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
# The parity tests need the real lite0 weights; a missing asset fails the tests, so install it first.
bash scripts/assets.sh
cargo test --release --workspace --locked "$@"
