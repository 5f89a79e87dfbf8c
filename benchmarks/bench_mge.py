"""Benchmark of the clean MGE build (``sg.encode(..., encoding="mge")``, graphs.md §2.4), issue #15 targets.

Workloads: the zoo's ResNet-20 and CONV-6 (input 3x32x32, seed 0) with seeded uniform masks keeping 2 %
of every conv and linear weight (98 % sparsity; the masks of ``bench_topo.py``). One timed run is the
whole build from model and masks: trace, layer specs, plan, edge generation and merge. Targets on 2
cores: ResNet-20 ≤ 0.05 s, CONV-6 ≤ 0.3 s. Run::

    python benchmarks/bench_mge.py [--repeat 5] [--threads N] [--density 0.02]

Prints the graph sizes and the target table (best wall and best CPU seconds of the repetitions, peak
RSS of the process) and exits 0.
"""

from __future__ import annotations

import argparse
from typing import Callable

from harness import add_thread_option, apply_threads, print_targets, time_best

import sparsegraph as sg
from bench_topo import uniform_masks

INPUT_SHAPE = (3, 32, 32)
TARGETS = {"resnet20": 0.05, "conv6": 0.3}


def mge_build(model_name: str, density: float = 0.02) -> tuple[Callable[[], object], str]:
    """A zero-argument build of the model's clean MGE, and a description of the graph it builds."""
    model = sg.create_model(model_name, seed=0)
    masks = uniform_masks(model, density)

    def build():
        return sg.encode(model, masks, encoding="mge", input_shape=INPUT_SHAPE)

    graph = build()
    return build, f"N = {graph.num_nodes:,}, E = {graph.num_edges:,}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--density", type=float, default=0.02)
    add_thread_option(parser)
    args = parser.parse_args()
    threads = apply_threads(args)
    rows = []
    for name, target in TARGETS.items():
        build, sizes = mge_build(name, args.density)
        rows.append((f"MGE build, {name} at {1 - args.density:.0%} ({sizes})", target, time_best(build, args.repeat)))
    print_targets("clean MGE build", rows, threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
