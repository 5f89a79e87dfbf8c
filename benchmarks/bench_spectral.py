"""Benchmark of the spectral kernel (metrics.md §8).

Workloads, on the zoo's CIFAR ResNets (``sg.create_model``, seed 0) with random ERK masks at 1 % density:

* the four full-spectrum axes (``ramanujan.delta_r``, ``spectral.lambda``, ``ramanujan.imdb``,
  ``spectral.lambda_imsg``; neurips2023) for every ResNet-18 layer (21 layers), target ≤ 0.05 s
  (issue #15);
* the ICLR family (mu0, mu_hat, delta_r, delta_r_norm, delta_s, imdb, imdb_norm, narc; iclr2023) on
  ResNet-34 (37 layers), target ≤ 0.1 s (issue #15).

Times are taken after imports, with masks and layer graphs already built, as ``measure`` does it: one
batch preparation of every layer, then every metric on every layer reading the shared cache. Routes
(``--devices``): ``host`` is the default ``device=None`` route (SciPy sparse Grams, LAPACK ``dsyevr`` top
two per matrix at its exact size, ARPACK); ``cpu`` and ``cuda`` run the torch backend on that device
(padded batched Grams and ``eigvalsh``, block Lanczos), ``cuda`` only where CUDA is available. Run::

    python benchmarks/bench_spectral.py [--repeat 3] [--devices host cpu] [--solvers auto] [--threads N]

Prints a table (best wall and CPU seconds of the repetitions), then the target table of the default
route (host, ``auto``; and ``cuda`` when CUDA is present) with peak RSS, and exits 0.
"""

from __future__ import annotations

import argparse
import time
from typing import Callable

import numpy as np
import torch
from harness import Timing, add_thread_option, apply_threads, peak_rss_mib, print_targets

import sparsegraph as sg
from sparsegraph.metrics import ramanujan, spectral
from sparsegraph.metrics.cache import metric_cache
from sparsegraph.metrics.spectral_kernel import prepare

FULL_SPECTRUM_AXES = (ramanujan.delta_r, spectral.spectral_gap, ramanujan.imdb, spectral.lambda_imsg)
ICLR_FAMILY = (spectral.mu0, spectral.mu_hat, ramanujan.delta_r, ramanujan.delta_r_norm, ramanujan.delta_s,
               ramanujan.imdb, ramanujan.imdb_norm, ramanujan.narc)


def prunable_weights(model_name: str) -> list[tuple[str, np.ndarray]]:
    """``(name, weight)`` of every conv and linear layer of a zoo model, in registration order."""
    import torch.nn as nn

    model = sg.create_model(model_name, seed=0)
    return [(name, m.weight.detach().numpy()) for name, m in model.named_modules()
            if isinstance(m, (nn.Conv2d, nn.Linear))]


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


def erk_graphs(model_name: str, density: float, seed: int = 0) -> list:
    """Rolled layer graphs of a zoo model with a random ERK mask (exactly round(d·numel) kept weights).

    A local ERK maker, so that the benchmark depends only on the model zoo and the metrics.
    """
    rng = np.random.default_rng(seed)
    layers = prunable_weights(model_name)
    graphs = []
    for (name, weight), d in zip(layers, erk_densities([w.shape for _, w in layers], density)):
        mask = np.zeros(weight.size, bool)
        mask[rng.choice(weight.size, max(1, round(d * weight.size)), replace=False)] = True
        graphs.append(sg.bipartite(mask.reshape(weight.shape), weight=weight, name=name))
    return graphs


def run(graphs: list, metrics, convention: str, solver: str, device: str | None) -> tuple[float, float]:
    """Wall and CPU seconds of one measure-like pass: batch preparation, then every metric on every layer.

    CPU time (all threads of the process) is reported too because wall time on a shared machine mostly
    measures the other processes.
    """
    start, cpu = time.perf_counter(), time.process_time()
    if device is not None and device.startswith("cuda"):
        torch.cuda.synchronize()
    with metric_cache() as cache:
        prepare(graphs, cache, convention=convention, solver=solver, device=device)
        for graph in graphs:
            for metric in metrics:
                metric(graph, convention=convention, solver=solver, device=device)
    if device is not None and device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start, time.process_time() - cpu


WORKLOADS = {
    "full_spectrum": ("ResNet-18, 4 full-spectrum axes (neurips2023)", "resnet18", FULL_SPECTRUM_AXES, "neurips2023",
                      0.05),
    "iclr": ("ResNet-34, ICLR family (iclr2023)", "resnet34", ICLR_FAMILY, "iclr2023", 0.1),
}


def spectral_workload(key: str, device: str | None = None) -> Callable[[], object]:
    """A zero-argument pass of one :data:`WORKLOADS` entry (masks and layer graphs built once, here)."""
    _, model_name, metrics, convention, _ = WORKLOADS[key]
    graphs = erk_graphs(model_name, 0.01)
    return lambda: run(graphs, metrics, convention, "auto", device)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed repetitions (the best is reported)")
    parser.add_argument("--devices", nargs="+", default=["host", "cpu", "cuda"],
                        help="routes to time: host (device=None), or torch devices (cpu, cuda; cuda is "
                             "skipped without CUDA)")
    parser.add_argument("--solvers", nargs="+", default=["auto", "lanczos"],
                        choices=["auto", "gram", "lanczos", "dense"],
                        help="solver options to time (auto is the metrics.md §8 route)")
    add_thread_option(parser)
    args = parser.parse_args()
    threads = apply_threads(args)
    targets = []
    devices = [None if d == "host" else d for d in args.devices
               if not (d.startswith("cuda") and not torch.cuda.is_available())]
    print(f"{'workload':<48} {'route':>6} {'solver':>8} {'layers':>6} {'edges':>8} {'wall s':>8} {'cpu s':>8} "
          f"{'target s':>8}")
    for label, model_name, metrics, convention, target in WORKLOADS.values():
        graphs = erk_graphs(model_name, 0.01)
        edges = sum(g.num_edges for g in graphs)
        for device in devices:
            for solver in args.solvers:
                runs = [run(graphs, metrics, convention, solver, device) for _ in range(max(1, args.repeat) + 1)]
                wall, cpu = min(r[0] for r in runs[1:]), min(r[1] for r in runs[1:])  # the first run warms up
                print(f"{label:<48} {device or 'host':>6} {solver:>8} {len(graphs):>6} {edges:>8} {wall:>8.3f} "
                      f"{cpu:>8.3f} {target:>8.2f}")
                if solver == "auto" and (device is None or device.startswith("cuda")):
                    targets.append((f"{label}, {device or 'host'}", target, Timing(wall, cpu, peak_rss_mib())))
    print_targets("spectral kernel (issue #15 targets)", targets, threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
