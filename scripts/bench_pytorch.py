"""The PyTorch side of scripts/bench-vs-pytorch.sh: the same work as ablate's, timed in one process.

grid:     the 81 cells of `ablate bench` (mlp: bias x ReLU x dropout {0, 0.5}; linear; 25/100/1000 per
          class; seeds 0-2; 20 epochs of Adam at 1e-3, batch 64, val loss and accuracy after every
          epoch, then eval-mode train accuracy), on the same features file, `--jobs` cells at once,
          each on one thread (as ablate's workers). With `--vmap`, what a PyTorch user does to train
          many models at once ("model ensembling"): the 8 mlp cells of one size and seed as one
          ensemble, `torch.func.stack_module_state` + `functional_call` under `vmap`, one module
          whose bias, ReLU and dropout rate are per-model buffers (vmap needs one function), the
          same batches for the 8 (as ablate's stacks); the linear cell trains as in `grid`.
features: lite0 at 224 px on the first N images per class of Fashion-MNIST's 4 classes (train and
          t10k files), the same preprocessing (gray -> RGB, bilinear resize, ImageNet mean/std),
          eval mode, batches of 64, on `--threads` threads.

Only a benchmark and an oracle: never a dependency of ablate.
"""

import argparse
import gzip
import json
import multiprocessing as mp
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_safetensors(path):
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
        data = f.read()
    dtypes = {"F32": np.float32, "I64": np.int64, "U32": np.uint32, "I32": np.int32, "U8": np.uint8}
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        out[name] = np.frombuffer(data[start:end], dtype=dtypes[meta["dtype"]]).reshape(meta["shape"])
    return out


class Mlp(nn.Module):
    def __init__(self, dim, hidden, classes, bias, relu, dropout):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden, bias=bias)
        self.relu = relu
        self.bn = nn.BatchNorm1d(hidden)
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x):
        h = self.fc1(x)
        if self.relu:
            h = F.relu(h)
        return self.fc2(self.drop(self.bn(h)))


def cells():
    variants = [("mlp", b, r, p) for b in (True, False) for r in (True, False) for p in (0.0, 0.5)]
    variants.append(("linear", True, False, 0.0))
    return [(v, n, s) for n in (25, 100, 1000) for s in (0, 1, 2) for v in variants]


def cell_data(data, per_class, seed):
    """A cell's training subset (per_class rows of each class, drawn by seed), val split, classes;
    seeds torch's generator with seed."""
    tx, ty, vx, vy = data["train_x"], data["train_y"], data["val_x"], data["val_y"]
    classes = int(ty.max()) + 1
    rng = np.random.default_rng(seed)
    rows = np.concatenate([rng.permutation(np.flatnonzero(ty == c))[:per_class] for c in range(classes)])
    x, y = torch.from_numpy(tx[rows]), torch.from_numpy(ty[rows].astype(np.int64))
    xv, yv = torch.from_numpy(vx), torch.from_numpy(vy.astype(np.int64))
    torch.manual_seed(seed)
    return x, y, xv, yv, classes


def train_cell(args):
    (head, bias, relu, p), per_class, seed = args["cell"]
    torch.set_num_threads(1)
    x, y, xv, yv, classes = cell_data(args["data"], per_class, seed)
    dim = x.shape[1]
    model = Mlp(dim, 1024, classes, bias, relu, p) if head == "mlp" else nn.Linear(dim, classes)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    started = time.perf_counter()
    for _ in range(args["epochs"]):
        model.train()
        order = torch.randperm(len(y))
        for batch in order.split(64):
            if len(batch) < 2:
                continue
            loss = F.cross_entropy(model(x[batch]), y[batch])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            logits = model(xv)
            F.cross_entropy(logits, yv).item()
            (logits.argmax(1) == yv).float().mean().item()
    with torch.no_grad():
        (model(x).argmax(1) == y).float().mean().item()
    return time.perf_counter() - started


class SwitchMlp(nn.Module):
    """model1 with its switches as buffers, so that the 8 variants are one function for vmap."""

    def __init__(self, dim, hidden, classes, bias, relu, dropout):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.bn = nn.BatchNorm1d(hidden)
        self.fc2 = nn.Linear(hidden, classes)
        if not bias:
            with torch.no_grad():
                self.fc1.bias.zero_()
        self.register_buffer("bias_on", torch.tensor(float(bias)))
        self.register_buffer("relu_on", torch.tensor(float(relu)))
        self.register_buffer("p", torch.tensor(dropout))

    def forward(self, x, u):
        h = x @ self.fc1.weight.T + self.fc1.bias * self.bias_on
        h = torch.where(self.relu_on > 0, F.relu(h), h)
        h = self.bn(h)
        if self.training:
            h = h * ((u >= self.p).float() / (1 - self.p))
        return self.fc2(h)


def train_ensemble(args):
    """The 8 mlp cells of one size and seed as one vmapped ensemble; then the linear cell."""
    from torch.func import functional_call, stack_module_state

    per_class, seed = args["group"]
    torch.set_num_threads(1)
    x, y, xv, yv, classes = cell_data(args["data"], per_class, seed)
    dim = x.shape[1]
    variants = [(b, r, p) for b in (True, False) for r in (True, False) for p in (0.0, 0.5)]
    models = [SwitchMlp(dim, 1024, classes, *v) for v in variants]
    params, buffers = stack_module_state(models)
    base = SwitchMlp(dim, 1024, classes, True, True, 0.0).to("meta")
    bias_mask = torch.tensor([float(b) for b, _, _ in variants])[:, None]
    opt = torch.optim.Adam(params.values(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)

    def loss_of(p, b, xb, yb, u):
        return F.cross_entropy(functional_call(base, (p, b), (xb, u)), yb)

    ensemble_loss = torch.vmap(loss_of, in_dims=(0, 0, None, None, None), randomness="same")
    started = time.perf_counter()
    for _ in range(args["epochs"]):
        base.train()
        order = torch.randperm(len(y))
        for batch in order.split(64):
            if len(batch) < 2:
                continue
            u = torch.rand(len(batch), 1024)
            loss = ensemble_loss(params, buffers, x[batch], y[batch], u).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            # A bias that is off stays a zero.
            params["fc1.bias"].grad *= bias_mask
            opt.step()
        base.eval()
        with torch.no_grad():
            logits = torch.vmap(lambda p, b: functional_call(base, (p, b), (xv, None)))(params, buffers)
            [F.cross_entropy(l, yv).item() for l in logits]
            [(l.argmax(1) == yv).float().mean().item() for l in logits]
    with torch.no_grad():
        logits = torch.vmap(lambda p, b: functional_call(base, (p, b), (x, None)))(params, buffers)
        [(l.argmax(1) == y).float().mean().item() for l in logits]
    ensemble = time.perf_counter() - started
    linear = train_cell({"cell": (("linear", True, False, 0.0), per_class, seed), "data": args["data"],
                         "epochs": args["epochs"]})
    return ensemble + linear


def grid(opts):
    data = read_safetensors(opts.features)
    if opts.vmap:
        groups = [{"group": (n, s), "data": data, "epochs": opts.epochs}
                  for n in (25, 100, 1000) for s in (0, 1, 2)]
        started = time.perf_counter()
        with mp.get_context("fork").Pool(opts.jobs) as pool:
            seconds = pool.map(train_ensemble, groups, chunksize=1)
        wall = time.perf_counter() - started
        print(f"pytorch vmap grid: {len(groups) * 9} cells as {len(groups)} ensembles of 8 mlp + "
              f"1 linear, {opts.jobs} workers x 1 thread: {wall:.1f} s wall, "
              f"{sum(seconds):.1f} s summed over workers' groups")
        return
    jobs = [{"cell": c, "data": data, "epochs": opts.epochs} for c in cells()]
    started = time.perf_counter()
    with mp.get_context("fork").Pool(opts.jobs) as pool:
        seconds = pool.map(train_cell, jobs, chunksize=1)
    wall = time.perf_counter() - started
    print(f"pytorch grid: {len(jobs)} cells, {opts.jobs} workers x 1 thread: {wall:.1f} s wall, "
          f"{sum(seconds):.1f} s summed over cells")


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        magic = struct.unpack(">I", f.read(4))[0]
        dims = [struct.unpack(">I", f.read(4))[0] for _ in range(magic & 0xFF)]
        return np.frombuffer(f.read(), dtype=np.uint8).reshape(dims)


def find(folder, stem):
    for name in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(folder, name)):
            return os.path.join(folder, name)
    sys.exit(f"error: {folder} has no {stem}[.gz]")


def features(opts):
    from efficientnet_lite_pytorch import EfficientNet

    torch.set_num_threads(opts.threads)
    images = []
    for split, n in (("train", opts.train_per_class), ("t10k", opts.val_per_class)):
        x = read_idx(find(opts.idx, f"{split}-images-idx3-ubyte"))
        y = read_idx(find(opts.idx, f"{split}-labels-idx1-ubyte"))
        for c in (0, 2, 4, 6):
            images.append(x[np.flatnonzero(y == c)[:n]])
    images = np.concatenate(images)
    model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=opts.weights)
    model.eval()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    started = time.perf_counter()
    with torch.no_grad():
        for start in range(0, len(images), 64):
            batch = torch.from_numpy(images[start:start + 64].astype(np.float32) / 255.0)[:, None]
            batch = F.interpolate(batch, size=(224, 224), mode="bilinear", align_corners=False)
            batch = (batch.expand(-1, 3, -1, -1) - mean) / std
            model.extract_features(batch).mean(dim=(2, 3))
    wall = time.perf_counter() - started
    print(f"pytorch features: {len(images)} images, lite0 at 224 px, {opts.threads} threads: "
          f"{wall:.1f} s ({len(images) / wall:.1f} images/s)")


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="what", required=True)
    g = sub.add_parser("grid")
    g.add_argument("features")
    g.add_argument("--jobs", type=int, default=2)
    g.add_argument("--epochs", type=int, default=20)
    g.add_argument("--vmap", action="store_true")
    f = sub.add_parser("features")
    f.add_argument("--idx", required=True)
    f.add_argument("--weights", required=True)
    f.add_argument("--train-per-class", type=int, default=200)
    f.add_argument("--val-per-class", type=int, default=100)
    f.add_argument("--threads", type=int, default=2)
    opts = parser.parse_args()
    {"grid": grid, "features": features}[opts.what](opts)


if __name__ == "__main__":
    main()
