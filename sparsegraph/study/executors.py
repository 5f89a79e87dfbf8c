"""Run independent tasks serially, in a spawn process pool, or on Ray; yield results as they finish.

A task is a picklable top-level function and its arguments. Results come back in completion order
(each task's result names its task). ``process`` uses a ``spawn`` context, so workers import
sparsegraph afresh and never inherit CUDA or thread-pool state from the driver. ``ray`` (the ``ray``
extra) requests one CPU per task and streams with ``ray.wait``; it connects to ``address`` or the Ray
environment (``RAY_ADDRESS``), or starts a local Ray.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Sequence

from sparsegraph.utils.parallel import EXECUTORS, require_ray, resolve_executor

__all__ = ["EXECUTORS", "check_executor", "execute"]


def check_executor(executor: str | None, workers: int | None) -> str:
    """The executor to use (see :func:`~sparsegraph.utils.parallel.resolve_executor`); fails before any work
    on an unknown executor, a bad worker count, or Ray missing."""
    executor = resolve_executor(executor, workers)
    if executor == "ray":
        require_ray()
    return executor


def execute(func: Callable[..., Any], tasks: Sequence[tuple], *, executor: str | None = None, workers: int | None = None,
            address: str | None = None) -> Iterator[Any]:
    """``func(*task)`` for every task; yields the results in completion order.

    Args:
        func: a top-level (picklable) function.
        tasks: argument tuples.
        executor: ``serial``, ``process`` or ``ray`` (None: ``process`` for more than one worker).
        workers: processes for ``process`` (None: 1); at most this many Ray tasks in flight for ``ray``
            (None: all, Ray schedules them by free CPUs).
        address: Ray cluster address (None: ``RAY_ADDRESS`` or a local Ray).
    """
    executor = check_executor(executor, workers)
    if executor == "serial" or not tasks:
        for task in tasks:
            yield func(*task)
    elif executor == "process":
        yield from _process_pool(func, tasks, workers or 1)
    else:
        yield from _ray(func, tasks, workers or len(tasks), address)


def _process_pool(func: Callable[..., Any], tasks: Sequence[tuple], workers: int) -> Iterator[Any]:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending = [pool.submit(func, *task) for task in tasks]
        while pending:
            done, not_done = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
            pending = list(not_done)


def _ray(func: Callable[..., Any], tasks: Sequence[tuple], workers: int, address: str | None) -> Iterator[Any]:
    import ray

    if not ray.is_initialized():
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    remote = ray.remote(num_cpus=1)(func)
    queue = list(tasks)
    in_flight = []
    while queue or in_flight:
        while queue and len(in_flight) < workers:
            in_flight.append(remote.remote(*queue.pop(0)))
        done, in_flight = ray.wait(in_flight, num_returns=1)
        for ref in done:
            yield ray.get(ref)
