#!/usr/bin/env bash
# Speed, side by side: the same work with ablate and with PyTorch (CPU, eager, from PyPI in a venv),
# one after the other on this machine, whole processes timed. Prints the machine, both figures and
# the ratios (PyTorch seconds / ablate seconds: above 1, ablate is faster).
#   1. the 81-cell grid of `ablate bench` (8 mlp variants + linear, 25/100/1000 per class, 3 seeds,
#      20 epochs, val after every epoch) on one synthetic features file of the forum's shape, 2 at
#      once on one thread each: ablate as it runs by default (linear probes stacked, the mlp cells
#      one at a time), with every head stacked (`--stack 0`) and with none (`--stack 1`), PyTorch
#      eager one cell at a time,
#      and PyTorch's model ensembling (`torch.func` + `vmap`, the 8 mlp cells of a size and seed as
#      one ensemble);
#   2. lite0 features at 224 px of 1200 Fashion-MNIST images (200 train + 100 t10k per class), 2 threads
#      (skipped with `bash scripts/bench-vs-pytorch.sh grid`).
# PyTorch is a benchmark here, never a dependency of ablate. Needs network for the first pip install.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/pytorch-venv.sh
bash scripts/assets.sh
cargo build --release --locked -p ablate

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.1f}')"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; AVX-512: $(grep -q avx512f /proc/cpuinfo && echo yes || echo no)"
echo "pytorch: $("$venv/bin/python" -c 'import torch; print(torch.__version__, torch.backends.cpu.get_cpu_capability())')"

# 1. The grid.
"$ABLATE_BIN" synth-features "$tmp/features.safetensors" >/dev/null 2>&1
cat >"$tmp/grid.toml" <<EOF
name = "bench-grid"
claims = []
[data]
kind = "features"
path = "$tmp/features.safetensors"
[train]
epochs = 20
batch_size = 64
hidden = 1024
[grid]
head = ["mlp", "linear"]
bias_before_bn = [true, false]
relu = [true, false]
dropout = [0.0, 0.5]
train_per_class = [25, 100, 1000]
seeds = [0, 1, 2]
EOF
t0=$(now)
"$ABLATE_BIN" run "$tmp/grid.toml" --out "$tmp/results" --report "$tmp/report" --jobs 2 >"$tmp/run.log" 2>&1 \
  || { cat "$tmp/run.log"; exit 1; }
t1=$(now)
"$ABLATE_BIN" run "$tmp/grid.toml" --out "$tmp/stacked" --report "$tmp/report-stacked" --jobs 2 --stack 0 >"$tmp/run-stacked.log" 2>&1 \
  || { cat "$tmp/run-stacked.log"; exit 1; }
t2=$(now)
# Every cell on its own, the path before stacking: how much of the default's figure is stacking.
"$ABLATE_BIN" run "$tmp/grid.toml" --out "$tmp/alone" --report "$tmp/report-alone" --jobs 2 --stack 1 >"$tmp/run-alone.log" 2>&1 \
  || { cat "$tmp/run-alone.log"; exit 1; }
t2b=$(now)
"$venv/bin/python" scripts/bench_pytorch.py grid "$tmp/features.safetensors" --jobs 2
t3=$(now)
"$venv/bin/python" scripts/bench_pytorch.py grid "$tmp/features.safetensors" --jobs 2 --vmap
t4=$(now)
ablate_grid=$(secs "$t0" "$t1"); ablate_stacked=$(secs "$t1" "$t2"); ablate_alone=$(secs "$t2" "$t2b")
torch_grid=$(secs "$t2b" "$t3"); torch_vmap=$(secs "$t3" "$t4")
# The three ablate runs record the same numbers (the stacked path's promise, tested in CI too).
for other in stacked alone; do
  cmp -s "$tmp/results/bench-grid/epochs.csv" "$tmp/$other/bench-grid/epochs.csv" \
    && echo "ablate default and $other epochs.csv: identical" || echo "ablate default and $other epochs.csv DIFFER"
done
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }

if [ "${1:-}" = grid ]; then
  echo
  echo "| 81-cell grid, 2 workers x 1 thread | seconds (whole process) | PyTorch eager / this |"
  echo "| --- | --- | --- |"
  echo "| PyTorch eager, one cell at a time | ${torch_grid} | 1.00 |"
  echo "| PyTorch torch.func + vmap, 8 mlp cells per ensemble | ${torch_vmap} | $(ratio "$torch_grid" "$torch_vmap") |"
  echo "| ablate, default (linear probes stacked, mlp cells one at a time) | ${ablate_grid} | $(ratio "$torch_grid" "$ablate_grid") |"
  echo "| ablate, every head stacked (--stack 0) | ${ablate_stacked} | $(ratio "$torch_grid" "$ablate_stacked") |"
  echo "| ablate, every cell on its own (--stack 1) | ${ablate_alone} | $(ratio "$torch_grid" "$ablate_alone") |"
  exit 0
fi

# 2. The features.
cat >"$tmp/features.toml" <<EOF
name = "bench-features"
claims = []
[data]
kind = "idx"
path = "/usr/share/datasets/fashion-mnist"
classes = [0, 2, 4, 6]
train_pool_per_class = 200
val_per_class = 100
[backbone]
arch = "efficientnet-lite0"
weights = "assets/efficientnet-lite0-57934424.pth"
image_size = 224
batch_size = 64
[grid]
head = ["linear"]
train_per_class = [25]
EOF
t5=$(now)
"$ABLATE_BIN" features "$tmp/features.toml" --out "$tmp/lite0.safetensors" --force >"$tmp/features.log" 2>&1 \
  || { cat "$tmp/features.log"; exit 1; }
t6=$(now)
"$venv/bin/python" scripts/bench_pytorch.py features --idx /usr/share/datasets/fashion-mnist \
  --weights assets/efficientnet-lite0-57934424.pth --train-per-class 200 --val-per-class 100 --threads 2
t7=$(now)
ablate_feat=$(secs "$t5" "$t6"); torch_feat=$(secs "$t6" "$t7")

echo
echo "| work | PyTorch (whole process) | ablate (whole process) | ratio PyTorch / ablate |"
echo "| --- | --- | --- | --- |"
echo "| 81-cell grid, 2 workers, PyTorch one cell at a time / ablate default | ${torch_grid} s | ${ablate_grid} s | $(ratio "$torch_grid" "$ablate_grid") |"
echo "| 81-cell grid, 2 workers, PyTorch vmap ensembles / ablate --stack 0 | ${torch_vmap} s | ${ablate_stacked} s | $(ratio "$torch_vmap" "$ablate_stacked") |"
echo "| lite0 features, 1200 images at 224 px | ${torch_feat} s | ${ablate_feat} s | $(python3 -c "print(f'{$torch_feat / $ablate_feat:.2f}')") |"
