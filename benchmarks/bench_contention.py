"""Benchmark: every issue #15 workload alone and beside a competing CPU-bound process (target ≤ 2.5× slower).

Each workload of ``bench_spectral.py``, ``bench_topo.py``, ``bench_mge.py``, ``bench_paths.py`` and
``bench_pags.py`` (a short PAGS run, ``--pags-candidates``, with ``--workers 2``) is timed twice, best of
``--repeat``: once as it is, once while a second process spins a core (a pure-Python loop, started before
the timing and stopped after it). Threads are set as the command line sets them (``--threads``, default:
the affinity mask; see ``sparsegraph/utils/threads.py``). The slowdown is the ratio of the wall times
(CPU time is printed too). Before issue #15 the paths benchmark went from 0.2 s to 5.8 s (≈ 30×) under one
competing process, because BLAS/OpenMP thread teams waited for the core the competitor held. Run::

    python benchmarks/bench_contention.py [--repeat 3] [--threads N] [--pags-candidates 10] [--skip-pags]

Prints the table and exits 0. On a machine that other processes already load, the "alone" column is
itself measured under that load.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from typing import Callable

from harness import Timing, add_thread_option, apply_threads, time_best

SLOWDOWN_TARGET = 2.5


def _spin(stop) -> None:
    """The competitor: one CPU-bound Python loop until ``stop`` is set."""
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x = (x * 1103515245 + 12345) & 0xFFFFFFFF


class Competitor:
    """A spawned process spinning one core for the duration of a ``with`` block."""

    def __enter__(self) -> "Competitor":
        ctx = multiprocessing.get_context("spawn")
        self.stop = ctx.Event()
        self.process = ctx.Process(target=_spin, args=(self.stop,), daemon=True)
        self.process.start()
        time.sleep(0.5)  # let it reach its loop
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.process.join(timeout=10)


def workloads(pags_candidates: int | None) -> list[tuple[str, float | None, Callable[[], object]]]:
    """``(label, target s, run)`` of every issue #15 workload, inputs built here (not timed)."""
    from bench_mge import TARGETS as MGE_TARGETS
    from bench_mge import mge_build
    from bench_paths import TARGET_S as PATHS_TARGET
    from bench_paths import paths_workload
    from bench_spectral import WORKLOADS as SPECTRAL
    from bench_spectral import spectral_workload
    from bench_topo import build_graph, run_once

    from sparsegraph.metrics import list_metrics

    out = [(SPECTRAL[key][0], SPECTRAL[key][4], spectral_workload(key)) for key in SPECTRAL]
    graph, _ = build_graph(0.02)
    names = [info.name for info in list_metrics("topo.*")]
    out.append(("16 topometrics, ResNet-20 MGE at 98%", 0.3, lambda: run_once(graph, names)))
    for name, target in MGE_TARGETS.items():
        out.append((f"MGE build, {name} at 98%", target, mge_build(name)[0]))
    out.append(("paths.* x4, ResNet-18 ERK 1%", PATHS_TARGET, paths_workload("erk")))
    if pags_candidates:
        import sparsegraph as sg

        model = sg.create_model("resnet18", num_classes=10, init="kaiming_fan_out", seed=0)
        out.append((f"PAGS {pags_candidates} candidates, --workers 2", 60.0 * pags_candidates / 1000,
                    lambda: sg.pruning.run(model, "pags", density=0.01, seed=0, base="erk",
                                           population=pags_candidates - 1, workers=2, executor="process")))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pags-candidates", type=int, default=10)
    parser.add_argument("--skip-pags", action="store_true")
    add_thread_option(parser)
    args = parser.parse_args()
    threads = apply_threads(args)
    rows: list[tuple[str, float | None, Timing, Timing]] = []
    for label, target, run in workloads(None if args.skip_pags else args.pags_candidates):
        repeat = 1 if label.startswith("PAGS") else args.repeat
        alone = time_best(run, repeat, warmup=0 if label.startswith("PAGS") else 1)
        with Competitor():
            loaded = time_best(run, repeat, warmup=0)
        rows.append((label, target, alone, loaded))
    width = max(len(r[0]) for r in rows)
    print(f"contention: one competing CPU-bound process; {threads} thread(s); best of {args.repeat}")
    print(f"{'workload':<{width}}  {'target s':>8}  {'alone wall':>10}  {'alone CPU':>9}  {'loaded wall':>11}  "
          f"{'loaded CPU':>10}  {'slowdown':>8}  verdict (≤ {SLOWDOWN_TARGET}x)")
    for label, target, alone, loaded in rows:
        ratio = loaded.wall / alone.wall
        verdict = "met" if ratio <= SLOWDOWN_TARGET else "missed"
        print(f"{label:<{width}}  {target:>8.3f}  {alone.wall:>10.3f}  {alone.cpu:>9.3f}  {loaded.wall:>11.3f}  "
              f"{loaded.cpu:>10.3f}  {ratio:>7.2f}x  {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
