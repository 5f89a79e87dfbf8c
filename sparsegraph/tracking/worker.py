"""The metric side of topology tracking: runs in a worker process, off the training path.

The worker holds a CPU copy of the model (sent once). Each task names a snapshot mask file and a
weights file (every conv/linear weight at that step, dense excluded layers too); it measures the
tracked registry metrics and the four full-spectrum axes (Δr, λ, IMDB, λ_imsg; undefined = 0,
metrics.md) of every layer, from which the driver computes the moving distance ‖x_l(t) − x_l(0)‖₂.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch
from torch import nn

FULL_SPECTRUM_AXES = ("ramanujan.delta_r", "spectral.lambda", "ramanujan.imdb", "spectral.lambda_imsg")


@dataclass(frozen=True)
class TrackSpec:
    """What every task measures: registry metric names (resolved) and the input shape."""

    metrics: tuple[str, ...]
    input_shape: tuple[int, ...] | None


@dataclass
class SnapshotValues:
    """One task's result: ``rows`` = (metric, layer or None, value); ``axes`` = layer -> 4 floats."""

    rows: list[tuple[str, str | None, float | None]]
    axes: dict[str, list[float]]


_STATE: tuple[nn.Module, TrackSpec] | None = None


def init_worker(model: nn.Module, spec: TrackSpec, nice: bool = True) -> None:
    """Pool initializer: one thread, lower CPU priority (training comes first), keep the model."""
    global _STATE
    torch.set_num_threads(1)
    if nice and hasattr(os, "nice"):
        try:
            os.nice(10)
        except OSError:
            pass
    _STATE = (model, spec)


def measure_snapshot(masks_path: str, weights_path: str, state: tuple[nn.Module, TrackSpec] | None = None
                     ) -> SnapshotValues:
    """Measure one snapshot (in the worker, or in the caller with ``state``)."""
    from sparsegraph.masks import MaskSet
    from sparsegraph.metrics import measure
    from sparsegraph.utils.state_dict import load_state_dict

    model, spec = state if state is not None else _STATE
    masks = MaskSet.load(masks_path)
    with torch.no_grad():
        params = dict(model.named_parameters())
        for name, value in load_state_dict(weights_path, "tracked weights").items():
            params[name].copy_(value)
    names = list(dict.fromkeys([*spec.metrics, *FULL_SPECTRUM_AXES]))
    result = measure(model, masks, names, input_shape=spec.input_shape)
    wanted = set(spec.metrics)
    rows = [(r["metric"], r["layer"], r["value"] if r["status"] == "ok" else None)
            for r in result.rows if r["metric"] in wanted]
    axes: dict[str, list[float]] = {}
    for r in result.rows:
        if r["metric"] in FULL_SPECTRUM_AXES and r["layer"] is not None:
            value = r["value"] if r["status"] == "ok" and r["value"] is not None else 0.0
            value = value if math.isfinite(value) else 0.0
            axes.setdefault(r["layer"], [0.0] * 4)[FULL_SPECTRUM_AXES.index(r["metric"])] = float(value)
    return SnapshotValues(rows, axes)
