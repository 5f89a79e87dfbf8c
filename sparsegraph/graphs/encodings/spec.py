"""The inputs of a per-layer encoding: one weight tensor's support, weights and conv geometry."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sparsegraph.errors import MaskError, UsageError

Pair = tuple[int, int]


def as_pair(value: int | tuple[int, ...] | list[int], what: str) -> Pair:
    """``3`` -> ``(3, 3)``; ``(3, 2)`` stays; anything else is a ValueError naming ``what``."""
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    pair = tuple(int(v) for v in value)
    if len(pair) != 2:
        raise UsageError(f"{what} must be an int or a pair of ints, got {value!r}")
    return pair  # type: ignore[return-value]


@dataclass(frozen=True)
class LayerSpec:
    """One prunable layer, as the encodings see it.

    Attributes:
        name: the layer FQN (edge-set name, partition prefix).
        support: bool array in PyTorch layout, ``(Cout, Cin/G, kh, kw)`` or ``(out, in)``.
        weight: float32 array of the same shape, or None for a graph from a mask alone (weights 1.0).
        groups: conv groups G.
        stride, padding, dilation: conv geometry as (h, w) pairs.
        input_hw: the spatial size (H, W) of the conv input (needed by ``unrolled`` only).
        shortcut: the conv is a projection shortcut (only ``compat="mge2024"`` unrolled uses it:
            the published code builds those on the unpadded, uncropped block-input grid).
    """

    name: str
    support: np.ndarray
    weight: np.ndarray | None
    groups: int = 1
    stride: Pair = (1, 1)
    padding: Pair = (0, 0)
    dilation: Pair = (1, 1)
    input_hw: Pair | None = None
    shortcut: bool = False

    @property
    def is_conv(self) -> bool:
        return self.support.ndim == 4

    @property
    def out_channels(self) -> int:
        return int(self.support.shape[0])

    @property
    def in_channels(self) -> int:
        """Cin (all groups) for a conv, ``in_features`` for a linear layer."""
        return int(self.support.shape[1]) * (self.groups if self.is_conv else 1)

    def check(self) -> None:
        """Validate shapes and geometry (ValueError naming the layer)."""
        if self.support.ndim not in (2, 4):
            raise MaskError(f"layer {self.name!r}: expected a 2-D linear or 4-D conv tensor, "
                             f"got {self.support.ndim} dimensions")
        if self.weight is not None and self.weight.shape != self.support.shape:
            raise MaskError(f"layer {self.name!r}: mask shape {self.support.shape} and weight shape "
                             f"{self.weight.shape} differ")
        if self.is_conv:
            if self.groups < 1 or self.out_channels % self.groups:
                raise UsageError(f"layer {self.name!r}: groups={self.groups} does not divide "
                                 f"out_channels={self.out_channels}")
            if min(self.stride) < 1 or min(self.dilation) < 1 or min(self.padding) < 0:
                raise UsageError(f"layer {self.name!r}: stride and dilation must be >= 1 and padding >= 0")


def output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """``⌊(size + 2p − d(k−1) − 1)/s⌋ + 1``, the conv output side."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def valid_outputs(size: int, out: int, tap: int, stride: int, padding: int, dilation: int) -> tuple[int, int]:
    """The output positions ``[lo, hi)`` at which kernel tap ``tap`` reads a real (unpadded) pixel.

    Position ``o`` reads ``o·s − p + tap·d``, which must lie in ``[0, size)``.
    """
    shift = tap * dilation - padding
    lo = max(0, (-shift + stride - 1) // stride) if shift < 0 else 0
    hi = min(out, (size - 1 - shift) // stride + 1) if size - 1 - shift >= 0 else 0
    return lo, max(lo, hi)


def float16_weights(values: np.ndarray) -> np.ndarray:
    """``|w|`` rounded to the nearest binary16 (ties to even), stored as float32 (``compat="mge2024"``)."""
    return np.abs(values).astype(np.float16).astype(np.float32)
