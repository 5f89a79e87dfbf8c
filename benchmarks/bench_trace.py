"""Benchmark of ``sg.trace`` (issue 16.7): the dense forward it used to run, the meta-tensor trace of a cache
miss, and a cache hit, on torchvision's ResNet-18 at 3x224x224 and the zoo's CIFAR ResNet-18 at 3x32x32.

* ``real``: the former procedure, the model itself traced on its device (one dense forward);
* ``miss``: ``sg.trace`` on an empty cache: key, meta copy, fx trace on meta tensors;
* ``hit``: ``sg.trace`` of another instance of the same architecture.

Each time is the median of ``--repeats`` runs, wall-clock and process CPU time (``time.process_time``; on a
loaded machine the wall-clock overstates the cost). Target: a hit in <= 5 ms, a miss no slower than ``real``.

Usage: ``OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python benchmarks/bench_trace.py [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import time

import torch
import torchvision

import sparsegraph as sg

trace_module = importlib.import_module("sparsegraph.topology.trace")


def timed(fn, repeats: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cases = [("torchvision resnet18", lambda: torchvision.models.resnet18(num_classes=10), (3, 224, 224)),
             ("zoo resnet18 (CIFAR)", lambda: sg.create_model("resnet18"), (3, 32, 32))]
    print(f"{'model':<22} {'input':<10} {'real wall/cpu ms':>18} {'miss wall/cpu ms':>18} {'hit wall/cpu ms':>17}"
          "  target")
    for name, build, shape in cases:
        model, other = build(), build()
        real = timed(lambda: trace_module._run_tracer(model, shape, None, "auto", ()), args.repeats)

        def miss():
            sg.topology.clear_cache()
            sg.trace(model, shape)

        missed = timed(miss, args.repeats)
        sg.trace(model, shape)
        hit = timed(lambda: sg.trace(other, shape), args.repeats)
        ok = hit[0] <= 0.005 and missed[1] <= real[1] * 1.2
        print(f"{name:<22} {'x'.join(map(str, shape)):<10} {real[0] * 1e3:>8.1f} / {real[1] * 1e3:<7.1f} "
              f"{missed[0] * 1e3:>8.1f} / {missed[1] * 1e3:<7.1f} {hit[0] * 1e3:>7.2f} / {hit[1] * 1e3:<7.2f}  "
              f"hit <= 5 ms, miss <= real: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
