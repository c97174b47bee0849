#!/usr/bin/env bash
# Regenerates crates/ablate-backbone/src/imagenet_classes.txt (the 1000 ImageNet-1k class names, in
# index order) from torchvision's `_IMAGENET_CATEGORIES`. Kept beside the data it made; not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --dest "$tmp" torchvision
python3 - "$tmp" crates/ablate-backbone/src/imagenet_classes.txt <<'PY'
import ast, glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/torchvision-*.whl")[0]
source = zipfile.ZipFile(wheel).read("torchvision/models/_meta.py").decode()
for node in ast.parse(source).body:
    if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "_IMAGENET_CATEGORIES" for t in node.targets):
        names = ast.literal_eval(node.value)
assert len(names) == 1000
open(sys.argv[2], "w").write("\n".join(names) + "\n")
PY
