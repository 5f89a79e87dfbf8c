"""The one place that decides how many BLAS, OpenMP and torch threads this process runs.

Every native thread pool the toolkit touches is set together: the BLAS and OpenMP runtimes loaded by
NumPy, SciPy (its own OpenBLAS for LAPACK and ARPACK) and torch, through :mod:`threadpoolctl`, and
torch's intra-op pool through :func:`torch.set_num_threads`. Two rules (issue #15):

* the main process uses the cores it was given: ``--threads N`` on the command line, or by default the
  process's CPU affinity mask (:func:`available_cores`; not ``os.cpu_count()``, which counts cores the
  scheduler may not give us);
* a pool worker (PAGS/PEGS scoring, study grids) uses **one** thread (:func:`use_worker_threads`): the
  pool is the parallelism, and ``workers × cores`` threads on ``cores`` cores oversubscribe them — a
  BLAS thread that waits for a core makes every other thread of its team wait too (the paths benchmark
  fell 30× under a second CPU-heavy process before this rule).

The metric kernels — many small problems: the spectral kernel's LAPACK Gram solves and ARPACK, the
topometrics' ARPACK, the path-counting passes' small sparse products — run inside :func:`serial_kernel`:
one thread in every pool for that block, whatever the process setting. A thread team on a 512×512 problem
saves little, and when another process holds a core every parallel region waits for the team's slowest
thread. Measured on the shared 2-core machine (load ≈ 7–10), two threads against one: full spectrum
8.7 s against 0.57 s wall, the 16 topometrics 15.6 s against 4.7 s, the paths family 8.4 s against 0.56 s.

Eigensolver results do not depend on the thread count where it matters for reproducibility: workers and
the serial PAGS executor both score with one thread (:func:`thread_limit`).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

from sparsegraph.errors import UsageError

_current: int | None = None
_controller = None  # threadpoolctl.ThreadpoolController, made once: re-scanning the libraries costs ~1 ms


def available_cores() -> int:
    """The number of cores this process may run on (its affinity mask; ``os.cpu_count()`` without one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity API (macOS, Windows)
        return max(1, os.cpu_count() or 1)


def _load_native_libraries() -> None:
    """Import the modules whose native thread pools are limited, so that threadpoolctl sees them."""
    import numpy  # noqa: F401  (its OpenBLAS)
    import scipy.linalg  # noqa: F401  (SciPy's own OpenBLAS: LAPACK)
    import scipy.sparse.linalg  # noqa: F401  (ARPACK, linked to the same BLAS)
    import torch  # noqa: F401  (its OpenMP runtime and MKL, if any)


def _apply(threads: int) -> None:
    import torch
    from threadpoolctl import threadpool_limits

    _load_native_libraries()
    threadpool_limits(limits=threads)  # every BLAS and OpenMP runtime loaded in this process
    torch.set_num_threads(threads)


def _blas_controller():
    global _controller
    if _controller is None:
        import scipy.linalg  # noqa: F401  (loads NumPy's and SciPy's BLAS)
        import scipy.sparse.linalg  # noqa: F401
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()  # also sees torch's OpenMP when torch is already loaded
    return _controller


@contextlib.contextmanager
def serial_kernel() -> Iterator[None]:
    """One thread in every BLAS, OpenMP and torch pool for the block (a few µs to enter), then the
    previous counts: the rule for the metric kernels (see the module docstring)."""
    torch = sys.modules.get("torch")  # not imported for a kernel that does not use it
    before = 1 if torch is None else torch.get_num_threads()
    with _blas_controller().limit(limits=1):
        if before != 1:
            torch.set_num_threads(1)
        try:
            yield
        finally:
            if before != 1:
                torch.set_num_threads(before)


def resolve_threads(threads: int | None) -> int:
    """``None`` → :func:`available_cores`; otherwise ``threads`` (a UsageError when it is not ≥ 1)."""
    if threads is None:
        return available_cores()
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise UsageError(f"threads must be a positive integer, got {threads!r}")
    return threads


def set_threads(threads: int | None = None) -> int:
    """Set every thread pool of this process to ``threads`` (default: :func:`available_cores`).

    Returns:
        The thread count now in effect.

    Raises:
        UsageError: ``threads`` is not a positive integer.
    """
    global _current
    count = resolve_threads(threads)
    _apply(count)
    _current = count
    return count


def current_threads() -> int:
    """The count set by :func:`set_threads` (the available cores when it was never called)."""
    return _current if _current is not None else available_cores()


def use_worker_threads() -> int:
    """The pool-worker rule: one thread for every BLAS, OpenMP and torch pool of this process."""
    return set_threads(1)


@contextlib.contextmanager
def thread_limit(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` threads in every pool, then restore the previous limits."""
    import torch
    from threadpoolctl import threadpool_limits

    _load_native_libraries()
    before = torch.get_num_threads()
    with threadpool_limits(limits=resolve_threads(threads)):
        torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)


def worker_share(workers: int) -> int:
    """Threads for each of ``workers`` pool processes that each run a whole job (a study grid's training
    runs): the available cores split evenly, at least one. Scoring workers use :func:`use_worker_threads`."""
    return max(1, available_cores() // max(1, workers))
