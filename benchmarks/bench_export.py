"""Build, convert and write times of the per-layer graph encodings (graphs.md §6).

Runs on the ResNet-20 layer geometry (CIFAR, 3x32x32) with uniform random masks at 98 % sparsity,
built directly as layer specs (steps ``build`` ... ``npz``), plus ``sg.encode`` on the zoo model
(tracing included, model construction excluded). Prints one row per (encoding, step): median of
``--repeat`` runs after a warm-up.

Whole-network ``mge`` rows (clean and ``compat="mge2024"``): ResNet-20 and CONV-6 at 98 % sparsity and
CIFAR ResNet-18 at 99 %, ERK masks (``sg.prune(model, "erk", ...)``, seed 0): ``sg.encode`` from
(model, masks) with tracing included, ``+ to_scipy`` (MGE -> CSR), ``to_igraph`` and the tracemalloc
peak of one MGE -> CSR run. Targets on 2 cores (graphs.md §6): ResNet-20 MGE -> CSR <= 1 s, CSR -> igraph
<= 2 s; CONV-6 MGE -> CSR <= 3 s.

Usage: python benchmarks/bench_export.py [--repeat 5] [--density 0.02] [--mge-only]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch

import sparsegraph as sg
from sparsegraph.graphs import LayerGraphs
from sparsegraph.graphs.encodings import LayerSpec, build_layer


def resnet20_specs(density: float, seed: int = 0) -> list[LayerSpec]:
    """ResNet-20's prunable layers (option-B shortcuts) with uniform random masks."""
    rng = np.random.default_rng(seed)
    layers = [("conv1", 3, 16, 3, 1, 32)]
    side, cin = 32, 16
    for stage, width in enumerate((16, 32, 64), start=1):
        for block in range(3):
            stride = 2 if stage > 1 and block == 0 else 1
            name = f"layer{stage}.{block}"
            layers.append((f"{name}.conv1", cin, width, 3, stride, side))
            out = side // stride
            layers.append((f"{name}.conv2", width, width, 3, 1, out))
            if stride != 1 or cin != width:
                layers.append((f"{name}.shortcut.0", cin, width, 1, stride, side))
            side, cin = out, width
    specs = []
    for name, c_in, c_out, k, s, hw in layers:
        w = rng.standard_normal((c_out, c_in, k, k)).astype(np.float32)
        specs.append(LayerSpec(name, rng.random(w.shape) < density, w, stride=(s, s), padding=(k // 2, k // 2),
                               input_hw=(hw, hw), shortcut=k == 1))
    w = rng.standard_normal((10, 64)).astype(np.float32)
    specs.append(LayerSpec("linear", rng.random(w.shape) < density, w))
    return specs


def median_time(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


#: mge benchmark cases: zoo model -> ERK density
MGE_CASES = {"resnet20": 0.02, "conv6": 0.02, "resnet18": 0.01}


def mge_rows(repeat: int) -> list[tuple]:
    """(model, compat, step, nodes, edges, seconds or MiB) rows of the multipartite encoding."""
    rows = []
    for name, density in MGE_CASES.items():
        model = sg.create_model(name)
        masks = sg.prune(model, "erk", density=density, seed=0)
        for compat in (None, "mge2024"):
            def build(compat=compat):
                return sg.encode(model, masks, encoding="mge", input_shape=(3, 32, 32), compat=compat)

            graph = build()
            label = f"{name} {density:g}" + (" compat" if compat else "")
            n, e = graph.num_nodes, graph.num_edges
            rows.append((label, "sg.encode", n, e, median_time(build, repeat)))
            rows.append((label, "sg.encode + to_scipy", n, e, median_time(lambda: build().to_scipy(), repeat)))
            rows.append((label, "to_igraph", n, e, median_time(graph.to_igraph, max(1, repeat // 2))))
            del graph
            tracemalloc.start()
            build().to_scipy()
            rows.append((label, "peak MiB (to_scipy)", n, e, tracemalloc.get_traced_memory()[1] / 2**20))
            tracemalloc.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--density", type=float, default=0.02)
    parser.add_argument("--mge-only", action="store_true", help="only the whole-network mge rows")
    args = parser.parse_args()
    # the trace's shape pass runs tiny convs, which extra torch threads only slow down
    torch.set_num_threads(1)
    if not args.mge_only:
        per_layer(args)
    header = f"{'model, density':<22} {'step':<22} {'nodes':>10} {'edges':>11} {'median s':>10}"
    print(f"\nmge (ERK masks, 3x32x32), median of {args.repeat} runs")
    print(header)
    print("-" * len(header))
    for label, step, n, e, t in mge_rows(args.repeat):
        print(f"{label:<22} {step:<22} {n:>10,} {e:>11,} {t:>10.3f}", flush=True)


def per_layer(args: argparse.Namespace) -> None:
    """The per-layer encodings' rows."""
    specs = resnet20_specs(args.density)
    model = sg.create_model("resnet20")
    masks = {s.name + ".weight": torch.from_numpy(s.support) for s in specs}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for encoding in ("rolled", "rolled-channel", "unrolled"):
            def build(encoding=encoding):
                return LayerGraphs({s.name: build_layer(s, encoding) for s in specs}, {"encoding": encoding})

            graphs = build()
            union = graphs.union()
            steps = {
                "sg.encode (zoo)": lambda encoding=encoding: sg.encode(model, masks, encoding=encoding),
                "build": build,
                "to_scipy (dict)": graphs.to_scipy,
                "union -> scipy N×N": union.to_scipy,
                "to_pyg (hetero)": graphs.to_pyg,
                "to_igraph": union.to_igraph,
                "edgelist .tsv": lambda: union.save(Path(tmp, "g.tsv")),
                "npz": lambda: union.save(Path(tmp, "g.npz")),
            }
            for step, fn in steps.items():
                rows.append((encoding, step, graphs.num_nodes, graphs.num_edges, median_time(fn, args.repeat)))
    header = f"{'encoding':<15} {'step':<20} {'nodes':>10} {'edges':>10} {'median s':>10}"
    print(f"ResNet-20 layers, density {args.density}, median of {args.repeat} runs")
    print(header)
    print("-" * len(header))
    for encoding, step, n, e, t in rows:
        print(f"{encoding:<15} {step:<20} {n:>10,} {e:>10,} {t:>10.4f}")


if __name__ == "__main__":
    main()
