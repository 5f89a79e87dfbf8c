"""Benchmark of the multipartite encoding (graphs.md §6): build time, igraph conversion, peak memory.

Cases: ResNet-20 and CONV-6 at 98 % sparsity and CIFAR ResNet-18 at 99 %, ERK masks (seeded), input
3x32x32. Timings are the median of ``--repeats`` runs after one warm-up, from (model, masks) in memory
with tracing included; model construction is excluded. Peak memory is the tracemalloc peak of one
extra build (numpy and torch allocations).

Targets on a 2-core CPU: ResNet-20 MGE -> CSR <= 1 s and CSR -> igraph <= 2 s; CONV-6 MGE -> CSR <= 3 s.

Usage: ``python benchmarks/bench_mge.py [--repeats 5] [--cases resnet20,conv6,resnet18] [--compat]``
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import numpy as np
import torch
from torch import nn

import sparsegraph as sg

CASES = {"resnet20": 0.02, "conv6": 0.02, "resnet18": 0.01}


def erk_masks(model: nn.Module, density: float, seed: int = 0) -> dict[str, torch.Tensor]:
    """Erdős–Rényi-kernel masks (Evci et al., 2020): layer density ∝ (Σ dims)/(Π dims), scaled so
    that the overall density is ``density``; layers that would exceed 1 are dense and the rest rescaled."""
    layers = [(n, m.weight.shape) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    numel = np.array([float(np.prod(s)) for _, s in layers])
    raw = np.array([sum(s) / np.prod(s) for _, s in layers], dtype=np.float64)
    dense = np.zeros(len(layers), dtype=bool)
    while True:
        budget = density * numel.sum() - numel[dense].sum()
        eps = budget / (raw[~dense] * numel[~dense]).sum()
        prob = np.where(dense, 1.0, eps * raw)
        if not (prob > 1).any():
            break
        dense |= prob > 1
    gen = torch.Generator().manual_seed(seed)
    masks = {}
    for (name, shape), p in zip(layers, prob):
        keep = max(1, int(round(p * np.prod(shape))))
        order = torch.randperm(int(np.prod(shape)), generator=gen)
        mask = torch.zeros(int(np.prod(shape)), dtype=torch.bool)
        mask[order[:keep]] = True
        masks[f"{name}.weight"] = mask.reshape(shape)
    return masks


def median_time(fn, repeats: int) -> tuple[float, object]:
    result = fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def run(name: str, density: float, repeats: int, compat: str | None) -> dict:
    model = sg.create_model(name)
    masks = erk_masks(model, density)
    build = lambda: sg.encode(model, masks, encoding="mge", input_shape=(3, 32, 32), compat=compat)  # noqa: E731
    t_arrays, graph = median_time(build, repeats)
    t_csr, _ = median_time(lambda: build().to_scipy(), repeats)
    row = {"model": name, "density": density, "compat": compat, "N": graph.num_nodes, "E": graph.num_edges,
           "build_s": t_arrays, "build_csr_s": t_csr}
    try:
        import igraph  # noqa: F401

        row["igraph_s"], _ = median_time(lambda: graph.to_igraph(), max(1, repeats // 2))
    except ImportError:
        row["igraph_s"] = None
    tracemalloc.start()
    build().to_scipy()
    row["peak_MiB"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--compat", action="store_true", help="also time compat='mge2024'")
    args = parser.parse_args()
    # the trace's shape pass runs tiny convs, which extra torch threads only slow down on a busy machine
    torch.set_num_threads(1)
    print(f"{'model':9} {'dens':>5} {'compat':8} {'N':>8} {'E':>10} {'build s':>8} {'+CSR s':>8} "
          f"{'igraph s':>8} {'peak MiB':>9}")
    for name in args.cases.split(","):
        for compat in ([None, "mge2024"] if args.compat else [None]):
            r = run(name, CASES[name], args.repeats, compat)
            ig = "-" if r["igraph_s"] is None else f"{r['igraph_s']:.2f}"
            print(f"{r['model']:9} {r['density']:5.2f} {str(r['compat']):8} {r['N']:8d} {r['E']:10d} "
                  f"{r['build_s']:8.2f} {r['build_csr_s']:8.2f} {ig:>8} {r['peak_MiB']:9.0f}", flush=True)


if __name__ == "__main__":
    main()
