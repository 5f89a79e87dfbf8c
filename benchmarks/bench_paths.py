"""Benchmark: ``paths.*`` (exact) on the CIFAR ResNet-18 at 1 % density (issue #15 target ≤ 0.05 s).

Run: ``python benchmarks/bench_paths.py [--repeat 5] [--threads N] [--density 0.01]`` (default threads: the
affinity mask, as the command line).

Masks are drawn once, before timing, with ``sg.prune`` (``random``: uniform per layer, and ``erk``; seed 0). Three timings per mask kind:

* ``passes``: the exact count and indicator passes and the effectiveness ops, topology already traced;
* ``4 metrics``: the four ``paths.*`` values from one shared evaluation, trace included;
* ``measure``: ``sg.measure(model, masks, "paths")`` end to end (it also traces for the layer order).

Wall-clock times are the best of ``--repeat`` runs; the CPU time of the 4-metric run (summed over threads)
is printed too, because wall-clock times are unreliable on a shared machine. The peak resident memory growth of the process during the timed runs is reported too. Prints a table,
exits 0.
"""

from __future__ import annotations

import argparse
import resource
import time

from harness import Timing, add_thread_option, apply_threads, print_targets

import sparsegraph as sg
from sparsegraph.metrics import compute_detailed, measure
from sparsegraph.metrics.cache import metric_cache
from sparsegraph.metrics.path_counting import run_passes, traced

TARGET_S = 0.05
METRICS = ("paths.log10_paths", "paths.effective_nodes", "paths.effective_weights", "paths.effective_sparsity")


def best_of(repeat: int, run) -> tuple[float, float]:
    """The best wall-clock and the best process CPU time (seconds) over ``repeat`` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def paths_workload(kind: str = "erk", density: float = 0.01):
    """A zero-argument run of the four ``paths.*`` metrics on ResNet-18 with ``kind`` masks (drawn here)."""
    model = sg.create_model("resnet18")
    shape = tuple(model.input_shape)
    masks = sg.prune(model, kind, density=density, seed=0)

    def four_metrics() -> dict:
        with metric_cache():
            return {m: compute_detailed(m, (model, masks), input_shape=shape).value for m in METRICS}

    return four_metrics


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--density", type=float, default=0.01)
    add_thread_option(parser)
    args = parser.parse_args()
    threads = apply_threads(args)

    model = sg.create_model("resnet18")
    shape = tuple(model.input_shape)
    topology = traced(model, shape)
    rows, targets = [], []
    drawn = {kind: sg.prune(model, kind, density=args.density, seed=0) for kind in ("random", "erk")}
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for kind, masks in drawn.items():
        kept = sum(int(m.sum()) for m in masks.values()) / sum(m.numel() for m in masks.values())

        def four_metrics() -> dict:
            with metric_cache():
                return {m: compute_detailed(m, (model, masks), input_shape=shape).value for m in METRICS}

        passes_s = best_of(args.repeat, lambda: run_passes(model, masks, shape, topology=topology))
        metrics_s = best_of(args.repeat, four_metrics)
        measure_s = best_of(args.repeat, lambda: measure(model, masks, "paths", input_shape=shape))
        values = four_metrics()
        rows.append([kind, f"{kept:.4f}", f"{values['paths.log10_paths']:.3f}",
                     f"{values['paths.effective_nodes']:.0f}", f"{values['paths.effective_sparsity']:.4f}",
                     f"{passes_s[0]:.3f}", f"{metrics_s[0]:.3f}", f"{metrics_s[1]:.3f}", f"{measure_s[0]:.3f}"])
        targets.append((f"paths.* x4, ResNet-18, {kind} masks at {args.density:.0%}", TARGET_S,
                        Timing(metrics_s[0], metrics_s[1], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
    peak_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024

    header = ["masks", "density", "log10 P", "eff nodes", "eff sparsity", "passes s", "4 metrics s",
              "4 metrics cpu s", "measure s"]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"paths.* (exact), CIFAR ResNet-18 {shape}, {len(topology.layers)} layers, {threads} threads, "
          f"best of {args.repeat}; target <= {TARGET_S} s")
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(c).rjust(w) for c, w in zip(row, widths)))
    print(f"peak RSS growth during the runs: {peak_mib:.1f} MiB")
    print_targets("paths family (issue #15 target)", targets, threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
