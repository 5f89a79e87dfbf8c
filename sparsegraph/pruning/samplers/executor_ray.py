"""The Ray executor for PAGS scoring (extra ``sparsegraph[ray]``); the only module that imports ray.

θ goes into the object store once; each candidate is one task requesting one CPU, running the same
:func:`sparsegraph.pruning.samplers.executors.score_task` as the process pool. Results stream back with
``ray.wait`` and are yielded strictly in input order, at most 2 × workers tasks in flight. The cluster is
``address`` when given, else whatever the Ray environment says (``RAY_ADDRESS``), else a local one.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import torch

from sparsegraph.utils.parallel import require_ray


class RayExecutor:
    """Ray tasks, one CPU each; θ stored once in the object store.

    Args:
        context: the worker context (model and scoring spec), put in the object store once.
        workers: tasks in flight at most twice this.
        address: a Ray cluster address (None: a local Ray).
        task: ``task(packed_masks, context) -> result``, run remotely.
        pack: ``pack(masks) -> packed_masks``, the compact form sent to a task.
    """

    def __init__(self, context: Any, workers: int, address: str | None = None, *,
                 task: Callable[[Any, Any], Any], pack: Callable[[Mapping[str, torch.Tensor]], Any]):
        ray = require_ray()
        self.ray = ray
        if not ray.is_initialized():
            ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
        self.workers = workers
        self.context_ref = ray.put(context)
        self.remote = ray.remote(num_cpus=1)(task)
        self.pack = pack

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
            in_flight[self.remote.remote(self.pack(masks), self.context_ref)] = index
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
