"""Batched image transforms on tensors (any device): normalisation and random crop + flip.

One implementation serves per-item datasets (a batch of one) and GPU-resident training batches.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def normalize(images: torch.Tensor, pixel_max: float, mean: Sequence[float] | torch.Tensor,
              std: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """float32 ``(images / pixel_max - mean) / std`` per channel, for images [N, C, H, W] (or [C, H, W]).

    ``mean`` and ``std`` may be float32 tensors on the images' device (reused without a copy).
    """
    shape = (-1, 1, 1)
    mean_t = torch.as_tensor(mean, dtype=torch.float32, device=images.device).view(shape)
    std_t = torch.as_tensor(std, dtype=torch.float32, device=images.device).view(shape)
    return (images.to(torch.float32) / pixel_max - mean_t) / std_t


def crop_flip(images: torch.Tensor, top: torch.Tensor, left: torch.Tensor, flip: torch.Tensor,
              padding: int) -> torch.Tensor:
    """Zero-pad by ``padding``, crop the original size at (``top``, ``left``), mirror where ``flip``.

    Args:
        images: [N, C, H, W], any dtype (raw uint8 pixels: the padding is raw zero, as torchvision's
            ``RandomCrop(padding=4)`` before ``ToTensor``/``Normalize``).
        top, left: int64 [N], offsets in ``[0, 2 * padding]`` into the padded image.
        flip: bool [N], horizontal flip after the crop.
        padding: pixels of zero padding on each side.
    """
    n, c, h, w = images.shape
    device = images.device
    padded = F.pad(images, (padding, padding, padding, padding)) if padding else images
    rows = top.to(device)[:, None] + torch.arange(h, device=device)
    cols = left.to(device)[:, None] + torch.arange(w, device=device)
    cols = torch.where(flip.to(device)[:, None], cols.flip(1), cols)
    batch = torch.arange(n, device=device)[:, None, None, None]
    channel = torch.arange(c, device=device)[None, :, None, None]
    return padded[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]


def random_crop_flip(images: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """:func:`crop_flip` with offsets and flips drawn from ``generator`` (on the generator's device).

    Each image independently: offsets uniform in ``[0, 2 * padding]``, flip with probability 1/2.
    """
    n = images.shape[0]
    device = generator.device
    top = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device=device)
    left = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device=device)
    flip = torch.randint(0, 2, (n,), generator=generator, device=device).bool()
    return crop_flip(images, top, left, flip, padding)
