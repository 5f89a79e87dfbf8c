"""Where NPB's taps go: inside a kernel by |θ| or seeded random keys; the post-pass's fill order."""

from __future__ import annotations

import numpy as np
import torch


def placement_keys(weight: torch.Tensor, placement: str, generator: torch.Generator) -> torch.Tensor:
    """Float64 CPU keys shaped like ``weight``, larger first: |θ| (``magnitude``) or U(0,1) (``random``)."""
    if placement == "magnitude":
        return weight.detach().to("cpu", torch.float64).abs()
    return torch.rand(tuple(weight.shape), generator=generator, dtype=torch.float64)


def rank_within(keys: torch.Tensor, dim: int) -> torch.Tensor:
    """The rank (0 = largest key; ties: lower index first) of every entry along ``dim``."""
    order = torch.argsort(-keys, dim=dim, stable=True)
    ranks = torch.empty_like(order)
    positions = torch.arange(keys.shape[dim]).reshape([-1 if d == dim % keys.dim() else 1 for d in range(keys.dim())])
    ranks.scatter_(dim, order, positions.expand_as(order).contiguous())
    return ranks


def place_taps(counts: np.ndarray, keys: torch.Tensor) -> torch.Tensor:
    """The bool mask keeping, in each kernel (i, j), the ``counts[i, j]`` taps with the largest keys.

    ``keys`` has the weight's shape (C_out, C_in[, k_h, k_w]); a linear layer's counts are its mask.
    """
    counts_t = torch.as_tensor(np.asarray(counts), dtype=torch.int64)
    if keys.dim() == 2:
        return counts_t > 0
    c_out, c_in = keys.shape[:2]
    ranks = rank_within(keys.reshape(c_out, c_in, -1), dim=2)
    return (ranks < counts_t[:, :, None]).reshape(keys.shape)


def fill_order(kept: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Flat positions of the weight in the post-pass's fill order.

    Groups are kernels (o, i) for k×k convs and input columns (every output of input i) for 1×1 convs
    and linear layers; groups with more kept taps come first (ties: lower group index), and inside a
    group the larger key first.
    """
    c_out, c_in = kept.shape[:2]
    taps = int(np.prod(kept.shape[2:])) if kept.dim() == 4 else 1
    if taps > 1:
        grouped_kept = kept.reshape(c_out * c_in, taps)
        grouped_keys = keys.reshape(c_out * c_in, taps)
        positions = torch.arange(kept.numel()).reshape(c_out * c_in, taps)
    else:  # columns: group i holds (o, i) for every o
        grouped_kept = kept.reshape(c_out, c_in).t()
        grouped_keys = keys.reshape(c_out, c_in).t()
        positions = torch.arange(kept.numel()).reshape(c_out, c_in).t()
    group_rank = torch.argsort(-grouped_kept.sum(dim=1), stable=True)
    within = torch.argsort(-grouped_keys[group_rank], dim=1, stable=True)
    return torch.gather(positions[group_rank], 1, within).reshape(-1)
