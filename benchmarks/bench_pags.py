"""Benchmark of PAGS candidate throughput (pruning spec §3 "Defaults and cost").

Workload: CIFAR ResNet-18 (10 classes, Kaiming fan-out init), ERK base at density 0.01, default score
(``spectral.full_spectrum`` with the layer-wise IMDB rule, convention neurips2023), on CPU. For a few
candidates it times generation (one ERK draw) and scoring (``ramanujan.imdb`` + ``spectral.full_spectrum``
on all 21 layers through the metric registry) separately, then runs PAGS end to end with each executor
setting and reports candidates per second. Generation and scoring are reported in CPU seconds of this
process (``time.process_time``: on a shared machine wall time mostly measures the other processes) and
in wall seconds. Then it times the issue #15 target: ``--candidates`` (default 1,000) candidates,
generation + scoring, end to end with ``--workers`` (default 2) in a process pool, target ≤ 60 s on 2
cores; its CPU time adds the pool workers' (``RUSAGE_CHILDREN``, collected when the pool shuts down).
Run::

    python benchmarks/bench_pags.py [--samples 4] [--candidates 1000] [--workers 2] [--threads N]

Prints a table, then the target table, and exits 0.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

from harness import Timing, add_thread_option, apply_threads, peak_rss_mib, print_targets

import sparsegraph as sg
from sparsegraph.pruning.samplers.executors import score_task, single_threaded, worker_context
from sparsegraph.pruning.samplers.scoring import resolve_score_spec
from sparsegraph.utils.seed import derive_seed


def split_timing(model, base: str, density: float, samples: int) -> dict[str, list[float]]:
    """CPU and wall seconds per candidate for generation and for scoring, one candidate at a time in-process."""
    with single_threaded():  # as PAGS runs them: workers, and the driver beside a pool, use one thread
        return _split_timing(model, base, density, samples)


def _split_timing(model, base: str, density: float, samples: int) -> dict[str, list[float]]:
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


def end_to_end(model, base: str, density: float, candidates: int, workers: int) -> Timing:
    """Wall and CPU seconds (this process and its pool workers) of a PAGS run over ``candidates`` candidates
    (sample 0 plus ``candidates − 1``), pool start-up included."""
    def cpu() -> float:
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    t0, c0 = time.perf_counter(), cpu()
    sg.pruning.run(model, "pags", density=density, seed=0, base=base, population=candidates - 1, workers=workers,
                   executor="process" if workers > 1 else "serial")
    return Timing(time.perf_counter() - t0, cpu() - c0, peak_rss_mib())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--base", default="erk")
    parser.add_argument("--density", type=float, default=0.01)
    parser.add_argument("--samples", type=int, default=4, help="candidates of the split timing")
    parser.add_argument("--candidates", type=int, default=1000, help="candidates of the end-to-end target run")
    parser.add_argument("--workers", type=int, nargs="+", default=[2])
    add_thread_option(parser)
    args = parser.parse_args()
    threads = apply_threads(args)

    model = sg.create_model(args.model, num_classes=10, init="kaiming_fan_out", seed=0)
    timing = {key: statistics.median(values)
              for key, values in split_timing(model, args.base, args.density, args.samples).items()}
    rows = [("generate, CPU (s / candidate)", timing["generate_cpu"]),
            ("generate, wall (s / candidate)", timing["generate_wall"]),
            ("score, CPU (s / candidate)", timing["score_cpu"]),
            ("score, wall (s / candidate)", timing["score_wall"])]
    targets = []
    for workers in args.workers:
        run = end_to_end(model, args.base, args.density, args.candidates, workers)
        rows.append((f"end to end incl. pool start-up, {workers} worker(s) (candidates / s)", args.candidates / run.wall))
        # the 60 s target is for 1,000 candidates: scaled to the candidates run
        targets.append((f"PAGS {args.candidates} candidates, --workers {workers}", 60.0 * args.candidates / 1000, run))
    print(f"PAGS on {args.model}, base {args.base}, density {args.density}, CPU")
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value:10.3f}")
    print_targets("PAGS generation + scoring (issue #15 target: 1,000 candidates in 60 s)", targets, threads)


if __name__ == "__main__":
    main()
