#!/usr/bin/env bash
# The Slurm path, on a real one-node Slurm started here (scripts/slurm-cluster.sh):
#  1. a 4-task array + features job + merge job: the merged tables equal a local run's, bit for bit
#     (all but the `seconds` column);
#  2. one task cancelled mid-run: the merge lists the missing cells, `ablate slurm --missing`
#     reruns only those, and the grid ends complete with every cell once.
# Fails loudly if the cluster cannot start. Needs the release binary (scripts/test.sh builds it).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/slurm-cluster.sh
started=$SECONDS
ablate=$(realpath "$ABLATE_BIN")
[ -x "$ablate" ] || { echo "slurm-test: $ablate is not built" >&2; exit 1; }

slurm_install
# A short path: munge's socket path must stay under 108 characters.
work=$(mktemp -d /tmp/ablate-slurm.XXXX)
cleanup() { slurm_stop "$work/cluster"; rm -rf "$work"; }
trap cleanup EXIT
if ! slurm_start "$work/cluster"; then
  echo "FAIL slurm-test: the one-node Slurm cluster did not start" >&2
  exit 1
fi
echo "slurm-test: cluster up ($(sinfo -h -o '%N %c CPUs %t'))"

cd "$work"
"$ablate" synth-features features.safetensors --dim 256 --train-per-class 400 --val-per-class 100 2>/dev/null
cat >exp.toml <<'TOML'
name = "slurmtest"
[data]
kind = "features"
path = "features.safetensors"
[train]
epochs = 12
batch_size = 32
hidden = 256
[grid]
head = ["mlp", "linear"]
bias_before_bn = [true, false]
relu = [true]
dropout = [0.0, 0.5]
train_per_class = [50, 400]
seeds = [0, 1, 2]
TOML
cells=$("$ablate" grid exp.toml 2>/dev/null | wc -l)

"$ablate" run exp.toml --out local --no-report --jobs 2 2>/dev/null

# Tables compared without the timing column.
same_tables() {
  python3 - "$1" "$2" <<'PY'
import csv, sys
def rows(path):
    with open(path) as f:
        table = list(csv.reader(f))
    drop = table[0].index("seconds") if "seconds" in table[0] else -1
    return [[v for i, v in enumerate(r) if i != drop] for r in table]
a, b = rows(sys.argv[1]), rows(sys.argv[2])
if a != b:
    sys.exit(f"{sys.argv[1]} and {sys.argv[2]} differ")
ids = [tuple(r[:2]) if "epoch" in a[0] else r[0] for r in a[1:]]
if len(ids) != len(set(ids)):
    sys.exit(f"{sys.argv[2]}: duplicate cells")
PY
}

ids() { awk '{print $2}' "$1" | paste -sd' '; }

# 1. Whole grid as an array of 4.
"$ablate" slurm exp.toml --tasks 4 --out cluster --cpus-per-task 1 --submit >jobs1
slurm_wait $(ids jobs1)
same_tables local/slurmtest/runs.csv cluster/slurmtest/runs.csv
same_tables local/slurmtest/epochs.csv cluster/slurmtest/epochs.csv
[ -f report/slurmtest/REPORT.md ] || { echo "FAIL: the merge job wrote no report" >&2; exit 1; }
grep -q "0 failed" cluster/slurmtest/slurm/logs/ablate-slurmtest-*_3.log
echo "slurm-test: array of 4 + merge == local run ($cells cells)"

# 2. Cancel task 1 once it has finished a cell, then resubmit only what is missing.
"$ablate" slurm exp.toml --tasks 4 --out cluster2 --cpus-per-task 1 --submit >jobs2
array=$(awk '$1 == "array" {print $2}' jobs2)
deadline=$((SECONDS + 300))
until "$ablate" status cluster2/slurmtest 2>/dev/null | awk '$1 == "1" && $3 >= 1 {found=1} END {exit !found}'; do
  [ $SECONDS -lt $deadline ] || { echo "FAIL: task 1 finished no cell in 300 s" >&2; exit 1; }
  sleep 0.2
done
scancel "${array}_1"
slurm_wait $(ids jobs2)
status=$("$ablate" status cluster2/slurmtest 2>&1)
echo "$status"
missing=$(echo "$status" | awk '$1 == "total" {print $5}')
[ "$missing" -gt 0 ] || { echo "FAIL: the cancelled task left no cell missing (cancelled too late?)" >&2; exit 1; }
grep -q "cells missing" cluster2/slurmtest/slurm/logs/ablate-slurmtest-merge-*.log ||
  { echo "FAIL: the merge job did not list the missing cells" >&2; exit 1; }
"$ablate" slurm exp.toml --tasks 2 --out cluster2 --cpus-per-task 1 --missing --submit >jobs3
slurm_wait $(ids jobs3)
same_tables local/slurmtest/runs.csv cluster2/slurmtest/runs.csv
[ "$(ls cluster2/slurmtest/cells/*.json | grep -vc failed)" -eq "$cells" ]
echo "slurm-test: cancelled task 1 left $missing cells missing; --missing completed the grid, every cell once"
echo "slurm-test: passed in $((SECONDS - started)) s"
