"""Benchmark of PAGS candidate throughput (pruning spec §3 "Defaults and cost").

Workload: CIFAR ResNet-18 (10 classes, Kaiming fan-out init), ERK base at density 0.01, default score
(``spectral.full_spectrum`` with the layer-wise IMDB rule, convention neurips2023), on CPU. For a few
candidates it times generation (one ERK draw) and scoring (``ramanujan.imdb`` + ``spectral.full_spectrum``
on all 21 layers through the metric registry) separately, then runs PAGS end to end with each executor
setting and reports candidates per second. Generation and scoring are reported in CPU seconds of this
process (``time.process_time``: on a shared machine wall time mostly measures the other processes) and
in wall seconds. Target: scoring ≤ 0.5 s per candidate on 2 cores. Run::

    OMP_NUM_THREADS=1 python benchmarks/bench_pags.py [--samples 4] [--workers 1 2] [--model resnet18]

Prints a table and exits 0.
"""

from __future__ import annotations

import argparse
import statistics
import time

import sparsegraph as sg
from sparsegraph.pruning.samplers.executors import score_task, worker_context
from sparsegraph.pruning.samplers.scoring import resolve_score_spec
from sparsegraph.utils.seed import derive_seed


def split_timing(model, base: str, density: float, samples: int) -> dict[str, list[float]]:
    """CPU and wall seconds per candidate for generation and for scoring, one candidate at a time in-process."""
    context = worker_context(model, resolve_score_spec())
    score_task(dict(sg.prune(model, base, density, seed=0)), context)  # warm-up: imports, first allocations
    out: dict[str, list[float]] = {"generate_cpu": [], "generate_wall": [], "score_cpu": [], "score_wall": []}
    for j in range(samples):
        c0, w0 = time.process_time(), time.perf_counter()
        masks = sg.prune(model, base, density, seed=derive_seed(0, "pags", j))
        c1, w1 = time.process_time(), time.perf_counter()
        score_task(dict(masks), context)
        c2, w2 = time.process_time(), time.perf_counter()
        out["generate_cpu"].append(c1 - c0)
        out["generate_wall"].append(w1 - w0)
        out["score_cpu"].append(c2 - c1)
        out["score_wall"].append(w2 - w1)
    return out


def end_to_end(model, base: str, density: float, samples: int, workers: int) -> float:
    """Candidates per second of a whole PAGS run (sample 0 plus ``samples``)."""
    t0 = time.perf_counter()
    sg.pruning.run(model, "pags", density=density, seed=0, base=base, population=samples, workers=workers,
                   executor="process" if workers > 1 else "serial")
    return (samples + 1) / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--base", default="erk")
    parser.add_argument("--density", type=float, default=0.01)
    parser.add_argument("--samples", type=int, default=4, help="candidates per measurement")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    model = sg.create_model(args.model, num_classes=10, init="kaiming_fan_out", seed=0)
    timing = {key: statistics.median(values)
              for key, values in split_timing(model, args.base, args.density, args.samples).items()}
    rows = [("generate, CPU (s / candidate)", timing["generate_cpu"]),
            ("generate, wall (s / candidate)", timing["generate_wall"]),
            ("score, CPU (s / candidate)", timing["score_cpu"]),
            ("score, wall (s / candidate)", timing["score_wall"])]
    for workers in args.workers:
        rate = end_to_end(model, args.base, args.density, args.samples, workers)
        rows.append((f"end to end incl. pool start-up, {workers} worker(s) (candidates / s)", rate))
    print(f"PAGS on {args.model}, base {args.base}, density {args.density}, {args.samples} candidates, CPU")
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value:10.3f}")
    verdict = "meets" if timing["score_cpu"] <= 0.5 else "misses"
    print(f"scoring target ≤ 0.5 s per candidate: {verdict} (median {timing['score_cpu']:.3f} CPU s)")


if __name__ == "__main__":
    main()
