"""Device resolution for ``--device auto|cpu|cuda[:N]``: the one place that turns a device option into a
``torch.device`` (training) or a metric route (measure)."""

from __future__ import annotations

import warnings

import torch

from sparsegraph.errors import UsageError


def resolve_device(device: str | torch.device | None = "auto", *, warn_cpu: bool = False) -> torch.device:
    """Turn ``auto``/``cpu``/``cuda``/``cuda:N`` into a ``torch.device``.

    ``auto`` is CUDA when available, else CPU (with a warning if ``warn_cpu``). Asking for CUDA on a
    machine without it raises :class:`~sparsegraph.errors.UsageError`.
    """
    if device is None or str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if warn_cpu:
            warnings.warn("no CUDA device found; running on CPU", stacklevel=2)
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise UsageError(f"invalid device {device!r}: expected auto, cpu, cuda or cuda:N") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"device {device!r} requested but CUDA is not available on this machine")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UsageError(f"device {device!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
    elif dev.type != "cpu":
        raise UsageError(f"unsupported device {device!r}: expected auto, cpu, cuda or cuda:N")
    return dev


def metric_device(device: str | torch.device | None) -> torch.device | None:
    """The device metrics compute on: None keeps each metric's default (host NumPy/SciPy route).

    ``auto`` is CUDA when available, else None; an explicit ``cpu`` or ``cuda[:N]`` runs the metrics'
    torch route on that device (checked as by :func:`resolve_device`).
    """
    if device is None:
        return None
    if str(device) == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else None
    return resolve_device(device)
