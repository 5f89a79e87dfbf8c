"""Build, convert and write times of the per-layer graph encodings (graphs.md §6).

Runs on the ResNet-20 layer geometry (CIFAR, 3x32x32) with uniform random masks at 98 % sparsity,
built directly as layer specs (steps ``build`` ... ``npz``), plus ``sg.encode`` on the zoo model
(tracing included, model construction excluded). Prints one row per (encoding, step): median of
``--repeat`` runs after a warm-up. Whole-network (mge) rows are added by the multipartite builder.

Usage: python benchmarks/bench_export.py [--repeat 5] [--density 0.02]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--density", type=float, default=0.02)
    args = parser.parse_args()
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
