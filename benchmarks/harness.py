"""What every ``benchmarks/`` script shares: thread setup, best-of-N timing, the target table.

Each timed workload reports its wall time, its CPU time (``time.process_time``: all threads of this
process, so on a machine shared with other processes it measures our work while the wall time also
measures the others') and the process's peak resident set size (``ru_maxrss``, a high-water mark over the
whole run so far). A target is checked against both times: ``met`` needs the wall time within it,
``met (CPU)`` says only the CPU time is (the wall time then carries other processes' load).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from sparsegraph.utils.threads import available_cores, set_threads  # noqa: E402


@dataclass(frozen=True)
class Timing:
    """Best wall and best CPU seconds over the timed runs, and the process's peak RSS after them."""

    wall: float
    cpu: float
    peak_rss_mib: float


def peak_rss_mib() -> float:
    """The process's peak resident set size so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_best(fn: Callable[[], object], repeat: int = 3, warmup: int = 1) -> Timing:
    """Run ``fn`` ``warmup`` times untimed, then ``repeat`` times; the minimum wall and CPU seconds."""
    for _ in range(warmup):
        fn()
    walls, cpus = [], []
    for _ in range(max(1, repeat)):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return Timing(min(walls), min(cpus), peak_rss_mib())


def add_thread_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS/OpenMP/torch threads (default: the cores of the affinity mask)")


def apply_threads(args: argparse.Namespace) -> int:
    """Set every thread pool as the command line does (``sparsegraph --threads``); the count set."""
    return set_threads(args.threads)


def verdict(target: float | None, timing: Timing) -> str:
    if target is None:
        return ""
    if timing.wall <= target:
        return "met"
    if timing.cpu <= target:
        return "met (CPU)"
    return f"missed ({timing.cpu / target:.1f}x)"


def print_targets(title: str, rows: list[tuple[str, float | None, Timing]], threads: int) -> None:
    """The target table: workload, target, wall, CPU, peak RSS and the verdict, one row per workload."""
    print(f"\n{title} — {threads} thread(s), {available_cores()} core(s) in the affinity mask")
    width = max(len(label) for label, _, _ in rows)
    print(f"{'workload':<{width}}  {'target s':>8}  {'wall s':>8}  {'CPU s':>8}  {'peak RSS MiB':>12}  verdict")
    for label, target, timing in rows:
        shown = "-" if target is None else f"{target:.3f}"
        print(f"{label:<{width}}  {shown:>8}  {timing.wall:>8.3f}  {timing.cpu:>8.3f}  {timing.peak_rss_mib:>12.1f}"
              f"  {verdict(target, timing)}")
