"""PAGS executors (spec pruning §3 "Parallel scoring", §8 item 16c): process pool = serial bitwise,
in-order merge with bounded in-flight tasks, Ray optional."""

from __future__ import annotations

import importlib.util
import sys

import pytest
import torch

import sparsegraph as sg
from sparsegraph.errors import UsageError
from sparsegraph.pruning.samplers import executors
from sparsegraph.pruning.samplers.executors import PackedMasks, make_executor, worker_context
from sparsegraph.pruning.samplers.scoring import resolve_score_spec

D = 0.05


def _run(kit, **opts):
    return sg.pruning.run(kit.lenet(), "pags", density=D, data=kit.digits().train, seed=11, base="snip",
                          population=5, interval=2, **opts)


def test_process_pool_equals_serial_bitwise(kit, tmp_path):
    serial = _run(kit, workers=1, run_dir=tmp_path / "serial")
    pooled = _run(kit, workers=2, executor="process", run_dir=tmp_path / "pool")
    assert kit.same_masks(serial.masks, pooled.masks)
    assert kit.stable(serial.events, ("pags_sample", "pags_snapshot", "pags_layers")) == \
        kit.stable(pooled.events, ("pags_sample", "pags_snapshot", "pags_layers"))


def test_packed_masks_round_trip():
    g = torch.Generator().manual_seed(0)
    masks = {"a.weight": torch.rand(3, 5, 2, 2, generator=g) > 0.5, "b.weight": torch.rand(7, 3, generator=g) > 0.9}
    out = PackedMasks.pack(masks).unpack()
    assert all(torch.equal(out[k], masks[k]) for k in masks)


class _Recorder:
    """Counts how far the driver's candidate stream has been consumed."""

    def __init__(self, kit, n):
        self.masks = dict(sg.prune(kit.lenet(), "erk", D, seed=0))
        self.n, self.pulled, self.kit = n, 0, kit

    def __iter__(self):
        for j in range(self.n):
            self.pulled += 1
            yield j, self.masks


def test_process_executor_in_order_and_bounded(kit, monkeypatch):
    """The streaming logic of the pool, on threads that finish in reverse order (no spawn cost)."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    lock = threading.Lock()
    finished = []

    def slow_first(masks, context=None):
        time.sleep(0.05 if not finished else 0.0)
        with lock:
            finished.append(1)
        return len(finished)

    monkeypatch.setattr(executors, "score_task", slow_first)
    executor = executors.ProcessExecutor.__new__(executors.ProcessExecutor)
    executor.workers, executor.pool = 2, ThreadPoolExecutor(max_workers=2)
    recorder = _Recorder(kit, 7)
    try:
        seen = []
        for tag, _ in executor.imap(recorder):
            assert recorder.pulled - len(seen) <= 4  # at most 2 × workers in flight
            seen.append(tag)
    finally:
        executor.close()
    assert seen == list(range(7))


def test_bad_executor_options():
    context = None
    with pytest.raises(UsageError, match="executor"):
        make_executor("threads", 2, context)
    with pytest.raises(UsageError, match="workers"):
        make_executor("process", 0, context)


def test_ray_missing_fails_before_work(kit, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    calls = []
    monkeypatch.setattr(executors, "score_task", lambda *a, **k: calls.append(1))
    with pytest.raises(UsageError, match=r"sparsegraph\[ray\]"):
        _run(kit, executor="ray", workers=2)
    assert not calls


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed (extra sparsegraph[ray])")
def test_ray_equals_serial(kit):
    serial = _run(kit)
    on_ray = _run(kit, executor="ray", workers=2)
    assert kit.same_masks(serial.masks, on_ray.masks)
    assert kit.stable(serial.events) == kit.stable(on_ray.events)
