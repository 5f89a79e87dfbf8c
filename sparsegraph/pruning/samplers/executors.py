"""Where PAGS candidates are scored: in the driver, in a spawn process pool, or on Ray (spec pruning §3).

Every executor runs the same task function, :func:`score_task`, on a worker context holding θ (the model)
and the :class:`ScoreSpec`, sent once per worker. ``imap`` takes an iterator of ``(tag, masks)`` — the
driver generates candidates lazily, in order, while workers score — and yields ``(tag, CandidateScore)``
strictly in input order with at most 2 × workers tasks in flight, so any worker count reproduces the
serial result bitwise.
"""

from __future__ import annotations

import collections
import contextlib
import copy
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from sparsegraph.errors import UsageError
from sparsegraph.pruning.samplers.scoring import CandidateScore, ScoreSpec, score_masks
from sparsegraph.utils.threads import thread_limit, use_worker_threads

EXECUTORS = ("serial", "process", "ray")


@dataclass
class WorkerContext:
    """What every worker receives once: the model holding θ (on CPU) and the score specification."""

    model: nn.Module
    spec: ScoreSpec


@dataclass(frozen=True)
class PackedMasks:
    """Boolean masks as bit-packed bytes (8× smaller to ship to workers than bool tensors)."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    bits: tuple[bytes, ...]

    @classmethod
    def pack(cls, masks: Mapping[str, torch.Tensor]) -> "PackedMasks":
        names = tuple(masks)
        return cls(names, tuple(tuple(masks[n].shape) for n in names),
                   tuple(np.packbits(masks[n].reshape(-1).cpu().numpy()).tobytes() for n in names))

    def unpack(self) -> dict[str, torch.Tensor]:
        out = {}
        for name, shape, bits in zip(self.names, self.shapes, self.bits):
            n = int(np.prod(shape, dtype=np.int64))
            flat = np.unpackbits(np.frombuffer(bits, dtype=np.uint8), count=n).astype(bool)
            out[name] = torch.from_numpy(flat).reshape(shape)
        return out


_CONTEXT: WorkerContext | None = None


def init_worker(context: WorkerContext) -> None:
    """Pool initializer: keep the context for the tasks; one thread per worker (the pool is the parallelism)."""
    global _CONTEXT
    use_worker_threads()
    _CONTEXT = context


def score_task(masks: PackedMasks | Mapping[str, torch.Tensor], context: WorkerContext | None = None
               ) -> CandidateScore:
    """Score one candidate with the worker's (or the given) context."""
    ctx = context if context is not None else _CONTEXT
    if ctx is None:
        raise RuntimeError("score_task called in a worker without a context")
    unpacked = masks.unpack() if isinstance(masks, PackedMasks) else masks
    return score_masks(ctx.model, unpacked, ctx.spec)


def worker_context(model: nn.Module, spec: ScoreSpec) -> WorkerContext:
    """A CPU copy of ``model`` for workers (the caller's model is not touched)."""
    cpu = copy.deepcopy(model).to("cpu")
    for p in cpu.parameters():
        p.requires_grad_(False)
    return WorkerContext(cpu, spec)


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Score with one thread in every BLAS, OpenMP and torch pool, as pool workers do: eigensolver results
    then do not depend on the thread count, so the serial executor reproduces any pool bitwise."""
    with thread_limit(1):
        yield


class SerialExecutor:
    """Scores each candidate in the driver as it is generated (single-threaded, like a pool worker)."""

    def __init__(self, context: WorkerContext):
        self.context = context

    def imap(self, items: Iterable[tuple[Any, Mapping[str, torch.Tensor]]]) -> Iterator[tuple[Any, CandidateScore]]:
        for tag, masks in items:
            with single_threaded():
                score = score_task(masks, self.context)
            yield tag, score

    def close(self) -> None:
        pass


class ProcessExecutor:
    """A spawn-context process pool; θ travels once per worker through the initializer."""

    def __init__(self, context: WorkerContext, workers: int):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.workers = workers
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=init_worker, initargs=(context,))

    def imap(self, items: Iterable[tuple[Any, Mapping[str, torch.Tensor]]]) -> Iterator[tuple[Any, CandidateScore]]:
        pending: collections.deque = collections.deque()
        for tag, masks in items:
            pending.append((tag, self.pool.submit(score_task, PackedMasks.pack(masks))))
            while len(pending) >= 2 * self.workers:
                head, future = pending.popleft()
                yield head, future.result()
        while pending:
            head, future = pending.popleft()
            yield head, future.result()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def make_executor(kind: str, workers: int, context: WorkerContext, ray_address: str | None = None):
    """The executor ``kind`` with ``workers`` workers (``serial`` ignores the count).

    Raises:
        UsageError: an unknown kind or a worker count below 1; ``ray`` without the ``sparsegraph[ray]``
            extra (before any work).
    """
    if kind not in EXECUTORS:
        raise UsageError(f"executor must be one of {', '.join(EXECUTORS)}, got {kind!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise UsageError(f"workers must be a positive integer, got {workers!r}")
    if kind == "ray":
        from sparsegraph.pruning.samplers.executor_ray import RayExecutor

        return RayExecutor(context, workers, address=ray_address)
    if kind == "serial" or workers == 1:
        return SerialExecutor(context)
    return ProcessExecutor(context, workers)


def check_executor(kind: str) -> None:
    """Fail before any work when ``kind`` cannot run here (``ray`` without its extra)."""
    if kind not in EXECUTORS:
        raise UsageError(f"executor must be one of {', '.join(EXECUTORS)}, got {kind!r}")
    if kind == "ray":
        from sparsegraph.pruning.samplers.executor_ray import require_ray

        require_ray()
