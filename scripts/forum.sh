#!/usr/bin/env bash
# The main job: build ablate, make the features the experiment needs, run the forum grid.
# Idempotent: a second call reuses the features and resumes the grid where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
experiment="${1:-experiments/forum.toml}"
cargo build --release --locked -p ablate
mkdir -p assets
features=assets/synthetic-features.safetensors
# Until the backbone lands, the forum grid runs on synthetic features of the real shape (F = 1280).
if [ ! -f "$features" ]; then
  "$ABLATE_BIN" synth-features "$features" --classes 4 --dim 1280 --train-per-class 1000 --val-per-class 500
fi
"$ABLATE_BIN" run "$experiment"
