"""The drop-fraction schedule ζ(t) of dynamic sparse training (spec pruning §5).

``cosine`` (default, ITOP ``CosineDecay``): ζ(t) = ζ_min + (ζ₀ − ζ_min)(1 + cos(π t / T)) / 2;
``linear``: ζ(t) = ζ₀ + (ζ_min − ζ₀) t / T; ``constant``: ζ(t) = ζ₀. ζ_min = min(0.005, ζ₀), so
ζ₀ = 0 gives ζ ≡ 0 (a constant mask) under every schedule.
"""

from __future__ import annotations

import math

from sparsegraph.errors import UsageError

SCHEDULES = ("cosine", "constant", "linear")
MIN_FRACTION = 0.005  # the ITOP code's eta_min


def drop_fraction(step: int, total: int, fraction: float, schedule: str = "cosine") -> float:
    """ζ at training step ``step`` (completed optimizer steps, 1-based) of ``total``.

    Args:
        step: the step counter after the optimizer step that fires the update.
        total: T, the total number of training iterations.
        fraction: ζ₀ ∈ [0, 1].
        schedule: ``cosine``, ``constant`` or ``linear``.
    """
    if schedule not in SCHEDULES:
        raise UsageError(f"dst_schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    if schedule == "constant":
        return float(fraction)
    low = min(MIN_FRACTION, float(fraction))
    progress = min(max(step / max(total, 1), 0.0), 1.0)
    if schedule == "linear":
        return float(fraction) + (low - float(fraction)) * progress
    return low + (float(fraction) - low) * (1.0 + math.cos(math.pi * progress)) / 2.0
