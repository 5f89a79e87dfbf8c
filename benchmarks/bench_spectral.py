"""Benchmark of the spectral kernel (metrics.md §8).

Workloads, on CIFAR ResNets with ERK masks at 1 % density and random weights:

* the four full-spectrum axes (``ramanujan.delta_r``, ``spectral.lambda``, ``ramanujan.imdb``,
  ``spectral.lambda_imsg``; neurips2023) for every ResNet-18 layer (21 layers), target ≤ 0.5 s;
* the ICLR family (mu0, mu_hat, delta_r, delta_r_norm, delta_s, imdb, imdb_norm, narc; iclr2023) on
  ResNet-34 (37 layers), target ≤ 0.5 s.

Times are taken after imports, with masks and layer graphs already built, as ``measure`` does it: one
batch preparation of every layer, then every metric on every layer reading the shared cache. Run::

    OMP_NUM_THREADS=2 python benchmarks/bench_spectral.py [--repeat 3] [--device cpu]

Prints a table and exits 0.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import sparsegraph as sg
from sparsegraph.metrics import ramanujan, spectral
from sparsegraph.metrics.cache import metric_cache
from sparsegraph.metrics.spectral_kernel import prepare

FULL_SPECTRUM_AXES = (ramanujan.delta_r, spectral.spectral_gap, ramanujan.imdb, spectral.lambda_imsg)
ICLR_FAMILY = (spectral.mu0, spectral.mu_hat, ramanujan.delta_r, ramanujan.delta_r_norm, ramanujan.delta_s,
               ramanujan.imdb, ramanujan.imdb_norm, ramanujan.narc)


def cifar_resnet_shapes(blocks: tuple[int, ...], num_classes: int = 10) -> list[tuple[str, tuple[int, ...]]]:
    """Weight shapes of a CIFAR ResNet with basic blocks, in registration order.

    Uses the model zoo (``sg.create_model``) when it provides ``resnet18``/``resnet34``; otherwise the
    standard CIFAR layout: 3×3 stem to 64 channels, four stages of 64/128/256/512 channels (stride 2 and a
    1×1 projection shortcut at the start of stages 2-4), linear classifier.
    """
    name = {(2, 2, 2, 2): "resnet18", (3, 4, 6, 3): "resnet34"}[blocks]
    try:
        model = sg.create_model(name)
    except Exception:  # the zoo is optional for this benchmark: fall back to the standard layout
        model = None
    if model is not None:
        import torch.nn as nn

        return [(f"{n}.weight", tuple(m.weight.shape)) for n, m in model.named_modules()
                if isinstance(m, (nn.Conv2d, nn.Linear))]
    shapes = [("conv1.weight", (64, 3, 3, 3))]
    c_in = 64
    for stage, (width, n_blocks) in enumerate(zip((64, 128, 256, 512), blocks), start=1):
        for b in range(n_blocks):
            prefix = f"layer{stage}.{b}"
            shapes.append((f"{prefix}.conv1.weight", (width, c_in, 3, 3)))
            shapes.append((f"{prefix}.conv2.weight", (width, width, 3, 3)))
            if c_in != width:
                shapes.append((f"{prefix}.shortcut.0.weight", (width, c_in, 1, 1)))
            c_in = width
    shapes.append(("fc.weight", (num_classes, 512)))
    return shapes


def erk_densities(shapes: list[tuple[int, ...]], density: float) -> np.ndarray:
    """Erdős–Rényi-kernel layer densities ∝ (Σ dims)/(Π dims), capped at 1, with the global density."""
    numel = np.array([np.prod(s) for s in shapes], dtype=np.float64)
    raw = np.array([sum(s) / np.prod(s) for s in shapes])
    dense = np.zeros(len(shapes), bool)
    while True:
        budget = density * numel.sum() - numel[dense].sum()
        scale = budget / (raw[~dense] * numel[~dense]).sum()
        layer = np.where(dense, 1.0, scale * raw)
        if (layer <= 1.0).all():
            return layer
        dense |= layer > 1.0


def erk_graphs(blocks: tuple[int, ...], density: float, seed: int = 0) -> list:
    """Rolled layer graphs of a CIFAR ResNet with an ERK mask (exactly round(d·numel) kept weights)."""
    rng = np.random.default_rng(seed)
    named = cifar_resnet_shapes(blocks)
    graphs = []
    for (name, shape), d in zip(named, erk_densities([s for _, s in named], density)):
        numel = int(np.prod(shape))
        mask = np.zeros(numel, bool)
        mask[rng.choice(numel, max(1, round(d * numel)), replace=False)] = True
        weight = rng.standard_normal(numel).astype(np.float32)
        graphs.append(sg.bipartite(mask.reshape(shape), weight=weight.reshape(shape), name=name))
    return graphs


def run(graphs: list, metrics, convention: str, device) -> float:
    """Seconds for one measure-like pass: batch preparation, then every metric on every layer."""
    start = time.perf_counter()
    with metric_cache() as cache:
        prepare(graphs, cache, convention=convention, device=device)
        for graph in graphs:
            for metric in metrics:
                metric(graph, convention=convention, device=device)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed repetitions (the best is reported)")
    parser.add_argument("--device", default=None, help="torch device for the batched eigensolves")
    args = parser.parse_args()
    workloads = [
        ("ResNet-18, 4 full-spectrum axes (neurips2023)", (2, 2, 2, 2), FULL_SPECTRUM_AXES, "neurips2023"),
        ("ResNet-34, ICLR family (iclr2023)", (3, 4, 6, 3), ICLR_FAMILY, "iclr2023"),
    ]
    print(f"{'workload':<48} {'layers':>6} {'edges':>8} {'best s':>8} {'target s':>8}")
    for label, blocks, metrics, convention in workloads:
        graphs = erk_graphs(blocks, 0.01)
        times = [run(graphs, metrics, convention, args.device) for _ in range(max(1, args.repeat))]
        edges = sum(g.num_edges for g in graphs)
        print(f"{label:<48} {len(graphs):>6} {edges:>8} {min(times):>8.3f} {0.5:>8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
