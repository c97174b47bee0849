#!/usr/bin/env bash
# Retrains a sample of committed cells with today's code and compares their records with the
# committed ones, field for field but `seconds` (wall time): a change to the heads, the draws or
# the trainer that moves any number shows up here. Needs the features caches under assets/features
# (`ablate run` makes them; about 3 minutes per experiment on 2 cores when missing).
#   bash scripts/committed-cells.sh [PATTERN ...]   (default: a sample of every experiment)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --release --locked -q
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# experiment, then the cells (globs under results/<name>/cells) to retrain.
check() {
  local name=$1; shift
  local dir=$work/$name
  mkdir -p "$dir"
  cp -r "results/$name/." "$dir/"
  local removed=()
  for glob in "$@"; do
    for f in "$dir"/cells/$glob; do
      [ -e "$f" ] || { echo "no committed cell matches $glob" >&2; exit 1; }
      cp "$f" "$work/committed-$(basename "$f")"
      rm "$f"
      removed+=("$(basename "$f")")
    done
  done
  echo "== $name: retraining ${#removed[@]} cells"
  "$ABLATE_BIN" run "experiments/$name.toml" --out "$work" --no-report >/dev/null
  python3 - "$dir/cells" "$work" "${removed[@]}" <<'PY'
import json, sys
cells, work, names = sys.argv[1], sys.argv[2], sys.argv[3:]
def strip(x):
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items() if k != "seconds"}
    if isinstance(x, list):
        return [strip(v) for v in x]
    return x
bad = 0
for n in names:
    ours = strip(json.load(open(f"{cells}/{n}")))
    theirs = strip(json.load(open(f"{work}/committed-{n}")))
    if ours != theirs:
        bad += 1
        diff = [k for k in theirs if ours.get(k) != theirs.get(k)]
        print(f"DIFFERS {n}: {diff}")
    else:
        print(f"same    {n}")
sys.exit(1 if bad else 0)
PY
}
check forum 'mlp-bias1-relu1-drop0.5-last1-in0.2-wd0-lr0.001-ep20-n25-s[01].json' \
  'mlp-bias[01]-relu0-drop0.5-last1-in0.2-wd0-lr0.001-ep20-n25-s0.json' \
  'mlp-bias0-relu1-drop0-last1-wd0-lr0.001-ep20-n100-s0.json' \
  'linear-last[01]-in0.2-wd0-lr0.001-ep20-n25-s0.json' \
  'linear-last1-wd0.001-lbfgs-n25-s0.json'
# forum-sweep commits its tables, not its cells: a one-seed slice of its grid (dropout before and
# after BN, the variance-shift measurements) is trained afresh and its rows compared with the
# committed runs.csv (the grid differs, so config_hash does; a cell's numbers do not depend on it).
slice=$work/forum-sweep-slice.toml
python3 - "$slice" <<'PY'
import re, sys
text = open("experiments/forum-sweep.toml").read()
head = text[: text.index("[grid]")]
head = head.replace('name = "forum-sweep"', 'name = "forum-sweep-slice"')
head = re.sub(r'answer = "[^"]*"\n', "", head)
open(sys.argv[1], "w").write(head + """[grid]
head = ["mlp"]
bias_before_bn = [true]
relu = [true]
dropout = [0.25, 0.5]
dropout_position = ["after_bn", "before_bn"]
input_dropout = [0.2]
weight_decay = [0.0]
lr = [0.001]
epochs = [20]
train_per_class = [25]
seeds = [0]
""")
PY
echo "== forum-sweep: a one-seed slice"
"$ABLATE_BIN" run "$slice" --out "$work" --no-report >/dev/null
python3 - "$work/forum-sweep-slice/runs.csv" results/forum-sweep/runs.csv <<'PY'
import csv, sys
ours = list(csv.DictReader(open(sys.argv[1])))
theirs = {(r["variant"], r["train_per_class"], r["seed"]): r for r in csv.DictReader(open(sys.argv[2]))}
skip = {"seconds", "config_hash"}
bad = 0
for r in ours:
    t = theirs[(r["variant"], r["train_per_class"], r["seed"])]
    # Columns added after the sweep was committed are not in its table.
    diff = [k for k in r if k not in skip and k in t and r[k] != t[k]]
    print(("DIFFERS " if diff else "same    ") + r["variant"] + (f" {diff}" if diff else ""))
    bad += bool(diff)
sys.exit(1 if bad else 0)
PY
check forum-finetune 'mlp-bias1-relu1-drop0.5-last1-in0.2-ep5-ft-blr0.001-n25-s0.json' \
  'linear-last1-in0.2-ep5-ft-blr0.001-n25-s0.json'
echo "every retrained cell matches its committed record"
