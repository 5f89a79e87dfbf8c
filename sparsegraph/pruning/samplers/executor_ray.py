"""The Ray executor for PAGS scoring (extra ``sparsegraph[ray]``); the only module that imports ray.

θ goes into the object store once; each candidate is one task requesting one CPU, running the same
:func:`sparsegraph.pruning.samplers.executors.score_task` as the process pool. Results stream back with
``ray.wait`` and are yielded strictly in input order, at most 2 × workers tasks in flight. The cluster is
``address`` when given, else whatever the Ray environment says (``RAY_ADDRESS``), else a local one.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import torch

from sparsegraph.errors import UsageError
from sparsegraph.pruning.samplers.executors import PackedMasks, WorkerContext, score_task


def require_ray():
    """Import ray, or fail with a message naming the extra."""
    try:
        import ray
    except ImportError:
        raise UsageError("executor='ray' needs Ray: install the extra with pip install 'sparsegraph[ray]'") \
            from None
    return ray


def _ray_score(context: WorkerContext, masks: PackedMasks):
    from sparsegraph.utils.threads import use_worker_threads

    use_worker_threads()  # a Ray task holds one CPU: one thread in every pool
    return score_task(masks, context)


class RayExecutor:
    """Ray tasks, one CPU each; θ stored once in the object store."""

    def __init__(self, context: WorkerContext, workers: int, address: str | None = None):
        ray = require_ray()
        self.ray = ray
        if not ray.is_initialized():
            ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
        self.workers = workers
        self.context_ref = ray.put(context)
        self.remote = ray.remote(num_cpus=1)(_ray_score)

    def imap(self, items: Iterable[tuple[Any, Mapping[str, torch.Tensor]]]) -> Iterator[tuple[Any, Any]]:
        order: collections.deque = collections.deque()
        done: dict[Any, Any] = {}
        in_flight: dict[Any, Any] = {}

        def collect():
            ready, _ = self.ray.wait(list(in_flight), num_returns=1)
            for ref in ready:
                done[in_flight.pop(ref)] = self.ray.get(ref)

        for index, (tag, masks) in enumerate(items):
            order.append((index, tag))
            in_flight[self.remote.remote(self.context_ref, PackedMasks.pack(masks))] = index
            while len(in_flight) + len(done) >= 2 * self.workers:
                while order[0][0] not in done:
                    collect()
                index0, tag0 = order.popleft()
                yield tag0, done.pop(index0)
        while order:
            while order[0][0] not in done:
                collect()
            index0, tag0 = order.popleft()
            yield tag0, done.pop(index0)

    def close(self) -> None:
        pass
