"""PyTorch oracle for one fine-tuning step: lukemelas-style EfficientNet-lite0 with the real pretrained
weights, `model._fc` replaced by the forum's model1, the whole network in train mode, one SGD step.

Writes a safetensors fixture that `crates/ablate-train/tests/finetune_parity.rs` compares ablate's
step with (max abs diff <= 1e-4). What it holds:
- `input` [N, 3, S, S] (Fashion-MNIST images: gray -> RGB, bilinear resize to S, ImageNet mean/std),
  `labels` [N] (0..3 for the classes 0, 2, 4, 6);
- `head.*`: model1's initial weights (PyTorch layout: Linear weights are [out, in]);
- `loss` [1], `logits` [N, 4] of the training forward;
- `grad.<name>`: gradients of a few parameters (stem conv, a depthwise conv, a BN's gamma, the head);
- `after.<name>`: the same parameters after the SGD step (backbone lr and head lr differ, as
  fine-tuning does it), and the running statistics of a few BatchNorms after the forward;
- `loss64`, `logits64`, `grad64.*`, `after64.*`: the same step in float64, the reference. Float32
  rounding moves a few ReLU6 inputs across a kink, which changes early-layer gradients by ~1e-2 in
  any float32 implementation, PyTorch's included; the test measures both against float64.

Dropout and drop-connect are off (p = 0) in the parity fixture: their draws come from different random
generators. `--drop-connect` writes a second fixture with lukemelas' drop-connect 0.2 and the backbone's
dropout 0.2 on; the test checks only the shapes of what it holds and ablate's own determinism.

SGD, not Adam: Adam's first step moves every weight by lr * sign(gradient), which hides gradient
errors and turns float noise in near-zero gradients into full-size differences.

`--bench N` times N such steps (Adam, dropout and drop-connect on, model1 with 1024 hidden) instead,
for `scripts/finetune-oracle.sh bench`.

An oracle and a benchmark only: never a dependency of ablate.
"""

import argparse
import copy
import json
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from bench_pytorch import read_idx  # the same IDX reader as the benchmark

CLASSES = (0, 2, 4, 6)
BACKBONE_LR = 0.05
HEAD_LR = 0.1

# Parameters whose gradients and updated values the fixture holds (lukemelas' names).
WATCHED = [
    "_conv_stem.weight",
    "_bn0.weight",
    "_bn0.bias",
    "_blocks.1._depthwise_conv.weight",
    "_blocks.15._depthwise_conv.weight",
    "_bn1.weight",
    "_fc.0.weight",
    "_fc.0.bias",
    "_fc.2.weight",
    "_fc.2.bias",
    "_fc.4.weight",
    "_fc.4.bias",
]
# BatchNorms whose running statistics the fixture holds after the training forward.
RUNNING = ["_bn0", "_blocks.1._bn1", "_blocks.15._bn2", "_bn1", "_fc.2"]


def images(idx_dir, per_class, size, offset=0):
    x = read_idx(f"{idx_dir}/train-images-idx3-ubyte.gz")
    y = read_idx(f"{idx_dir}/train-labels-idx1-ubyte.gz")
    rows, labels = [], []
    for new, old in enumerate(CLASSES):
        found = np.flatnonzero(y == old)[offset:offset + per_class]
        rows.extend(found)
        labels.extend([new] * len(found))
    batch = torch.from_numpy(x[rows].astype(np.float32) / 255.0).unsqueeze(1)
    batch = F.interpolate(batch, size=(size, size), mode="bilinear", align_corners=False)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    return ((batch.expand(-1, 3, -1, -1) - mean) / std).contiguous(), torch.tensor(labels)


def model1(features, hidden, classes, dropout):
    """The forum's model1 as the asker wrote it (bias before BN, ReLU, BN, Dropout, Linear)."""
    return nn.Sequential(
        nn.Linear(features, hidden, bias=True),
        nn.ReLU(),
        nn.BatchNorm1d(hidden),
        nn.Dropout(dropout),
        nn.Linear(hidden, classes),
    )


def write_safetensors(path, tensors, metadata):
    header, offset, blobs = {"__metadata__": metadata}, 0, []
    for name, t in tensors.items():
        a = t.detach().cpu().contiguous().numpy()
        dtype = {np.float32: "F32", np.int64: "I64"}[a.dtype.type]
        blob = a.tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for blob in blobs:
            f.write(blob)


def step(model, x, y):
    """One SGD step of the whole network in train mode: loss, logits, watched gradients, and the
    watched weights and running statistics afterwards."""
    backbone = [p for n, p in model.named_parameters() if not n.startswith("_fc.")]
    optim = torch.optim.SGD(
        [{"params": backbone, "lr": BACKBONE_LR}, {"params": model._fc.parameters(), "lr": HEAD_LR}],
        momentum=0.0,
    )
    model.train()
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    optim.zero_grad()
    loss.backward()
    params = dict(model.named_parameters())
    grads = {n: params[n].grad.detach().clone() for n in WATCHED}
    optim.step()
    state = model.state_dict()
    after = {n: state[n].detach().clone() for n in WATCHED}
    for bn in RUNNING:
        after[f"{bn}.running_mean"] = state[f"{bn}.running_mean"].clone()
        after[f"{bn}.running_var"] = state[f"{bn}.running_var"].clone()
    return loss, logits, grads, after


def bench(opts, EfficientNet):
    """Images/s of the step `ablate backbone finetune-bench` times: model1 (1024 hidden, dropout 0.5)
    on lite0, drop-connect 0.2, the backbone's dropout 0.2, Adam with a backbone and a head lr,
    random images, one warm-up step."""
    import time

    torch.set_num_threads(opts.threads)
    model = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=opts.weights, image_size=opts.size,
        drop_connect_rate=0.2, dropout_rate=0.2,
    )
    model._fc = model1(model._fc.in_features, 1024, len(CLASSES), 0.5)
    model.train()
    backbone = [p for n, p in model.named_parameters() if not n.startswith("_fc.")]
    optim = torch.optim.Adam([{"params": backbone, "lr": 1e-4}, {"params": model._fc.parameters(), "lr": 1e-3}])
    x = torch.randn(opts.batch, 3, opts.size, opts.size)
    y = torch.arange(opts.batch) % len(CLASSES)

    def step():
        loss = F.cross_entropy(model(x), y)
        optim.zero_grad()
        loss.backward()
        optim.step()
        return loss.item()

    step()
    started = time.perf_counter()
    for _ in range(opts.bench):
        step()
    seconds = time.perf_counter() - started
    print(f"pytorch {torch.__version__}, {opts.threads} threads: lite0 + model1, fine-tuning at {opts.size} px, "
          f"batch {opts.batch}: {opts.batch * opts.bench / seconds:.1f} images/s ({opts.bench} steps in {seconds:.2f} s)")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--weights", required=True)
    p.add_argument("--idx", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--out")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--per-class", type=int, default=2)
    p.add_argument("--offset", type=int, default=0, help="skip this many images of each class first")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--drop-connect", action="store_true")
    p.add_argument("--bench", type=int, default=0, help="time this many steps instead of writing a fixture")
    p.add_argument("--batch", type=int, default=32, help="(--bench) images per step")
    p.add_argument("--threads", type=int, default=1, help="(--bench) torch threads")
    opts = p.parse_args()

    from efficientnet_lite_pytorch import EfficientNet

    if opts.bench:
        return bench(opts, EfficientNet)

    torch.manual_seed(0)
    torch.set_num_threads(1)
    rate = 0.2 if opts.drop_connect else 0.0
    model = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=opts.weights, image_size=opts.size,
        drop_connect_rate=rate, dropout_rate=rate,
    )
    head = model1(model._fc.in_features, opts.hidden, len(CLASSES), 0.0)
    initial_head = {f"head.{k}": v.clone() for k, v in head.state_dict().items() if "running" not in k and "num_batches" not in k}
    model._fc = head
    model.train()

    x, y = images(opts.idx, opts.per_class, opts.size, opts.offset)
    reference = copy.deepcopy(model).double()
    loss, logits, grads, after = step(model, x, y)
    as32 = lambda d, prefix: {f"{prefix}.{k}": v.float() for k, v in d.items()}
    tensors = {
        "input": x, "labels": y, **initial_head,
        "loss": loss.detach().reshape(1), "logits": logits.detach(),
        **as32(grads, "grad"), **as32(after, "after"),
    }
    if not opts.drop_connect:
        # The same step in float64: the reference both float32 implementations are measured
        # against (float32 rounding moves a few ReLU6 inputs across a kink; see the test).
        loss64, logits64, grads64, after64 = step(reference, x.double(), y)
        tensors.update({
            "loss64": loss64.detach().float().reshape(1), "logits64": logits64.detach().float(),
            **as32(grads64, "grad64"), **as32(after64, "after64"),
        })

    metadata = {
        "model": "efficientnet-lite0 (efficientnet_lite_pytorch 0.1.0), _fc = model1",
        "torch": torch.__version__,
        "image_size": str(opts.size),
        "hidden": str(opts.hidden),
        "drop_connect_rate": str(rate),
        "dropout_rate": str(rate),
        "backbone_lr": str(BACKBONE_LR),
        "head_lr": str(HEAD_LR),
        "optimizer": "SGD, momentum 0, one step, mean cross-entropy",
        "images": f"train images {opts.offset}..{opts.offset + opts.per_class} of each of the classes {CLASSES} of Fashion-MNIST",
    }
    write_safetensors(opts.out, tensors, metadata)
    print(f"{opts.out}: loss {loss.item():.6f}, {len(tensors)} tensors")


if __name__ == "__main__":
    main()
