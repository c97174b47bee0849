#!/usr/bin/env bash
# The prepared check for a lent GPU machine (one command, well under 10 minutes): what the device
# backends do there, stacked and unstacked, printed for docs/gpu.md.
#   bash scripts/gpu-check.sh [ABLATE_BINARY]
# The binary must be built with `--features ablate/wgpu` (the GPU machine has no network, and a
# cuda build fetches LLVM at build time). Without an argument the script builds one with cargo
# (offline) when cargo and the crates are there, and says so when they are not. It prints:
#   1. the machine (GPU, driver, Vulkan device);
#   2. `ablate bench --backend wgpu --no-grid`: a model1 cell alone (steps/s, host reads per epoch),
#      then stacks of 8 mlp and 8 linear cells against one of them alone;
#   3. a small grid trained stacked on wgpu and on flex: seconds of each, and the largest difference
#      of a cell's val accuracy and final train loss between the two (the device tests' agreement);
#   4. whether a cuda build works here (it needs the LLVM bundle cubecl fetches: expected not).
set -uo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
section() { echo; echo "== $1 (at $((SECONDS - start)) s)"; }
bin="${1:-}"
if [ -z "$bin" ]; then
  if command -v cargo >/dev/null; then
    section "build (cargo, offline, --features ablate/wgpu)"
    timeout 420 cargo build --release --offline --locked -p ablate --features wgpu 2>&1 | tail -3
    bin="${CARGO_TARGET_DIR:-target}/release/ablate"
  fi
fi
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "no ablate binary: pass one built with --features ablate/wgpu (cargo is not here, or its build failed)"
  exit 2
fi

section "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -2
lscpu | sed -n 's/^Model name: *//p'; nproc
(vulkaninfo --summary 2>/dev/null | grep -E "deviceName|driverName|apiVersion" | head -6) || echo "no vulkaninfo"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"

section "bench: one model1 cell, then stacks (wgpu)"
timeout 240 "$bin" bench --backend wgpu --no-grid --cell-epochs 2 2>&1 | grep -v "^  ceiling"

section "a small grid, stacked, on wgpu and on flex"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" synth-features "$tmp/f.safetensors" --train-per-class 400 --val-per-class 200 >/dev/null 2>&1
cat >"$tmp/grid.toml" <<EOF
name = "gpu-check"
claims = []
[data]
kind = "features"
path = "$tmp/f.safetensors"
[train]
epochs = 10
batch_size = 64
hidden = 1024
[grid]
head = ["mlp", "linear"]
bias_before_bn = [true, false]
relu = [true, false]
dropout = [0.0, 0.5]
input_dropout = [0.0, 0.2]
weight_decay = { mlp = [0.0], linear = [0.0, 1e-4, 1e-3, 1e-2] }
train_per_class = [100, 400]
seeds = [0, 1]
EOF
for backend in wgpu flex; do
  jobs=1; [ "$backend" = flex ] && jobs=$(nproc)
  t0=$SECONDS
  timeout 200 "$bin" run "$tmp/grid.toml" --out "$tmp/$backend" --backend "$backend" --jobs "$jobs" --stack 0 --no-report \
    >"$tmp/$backend.log" 2>&1 || { echo "$backend run failed:"; tail -5 "$tmp/$backend.log"; }
  echo "$backend: $(tail -3 "$tmp/$backend.log" | grep -m1 cells), $((SECONDS - t0)) s with the process"
done
python3 - "$tmp" <<'EOF'
import csv, sys
rows = {}
for backend in ("wgpu", "flex"):
    try:
        with open(f"{sys.argv[1]}/{backend}/gpu-check/runs.csv") as f:
            rows[backend] = {r["cell_id"]: r for r in csv.DictReader(f)}
    except FileNotFoundError:
        print(f"no runs.csv from {backend}")
        sys.exit(0)
common = sorted(set(rows["wgpu"]) & set(rows["flex"]))
gap = lambda key: max(abs(float(rows["wgpu"][c][key]) - float(rows["flex"][c][key])) for c in common)
print(f"{len(common)} cells on both: largest |val_acc| difference {gap('val_acc'):.4f}, "
      f"largest |train_loss| difference {gap('train_loss'):.2e}")
EOF

section "cuda build (expected to fail offline: cubecl fetches LLVM at build time)"
if command -v cargo >/dev/null; then
  timeout 120 cargo build --release --offline --locked -p ablate --features cuda 2>&1 | tail -2
else
  echo "no cargo here"
fi
section "done"
