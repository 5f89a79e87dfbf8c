"""Training and evaluation batches: device-resident tensors or a DataLoader, seeded per epoch.

Every epoch's order (and augmentation) comes from its own generator,
``derive_seed(seed, "train", epoch)``, so a resumed run sees exactly the batches an uninterrupted
run would have seen, without saving generator states.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch
from torch.utils.data import DataLoader, Dataset

from sparsegraph.utils.seed import derive_seed, make_generator


@dataclass
class TensorSplit:
    """A whole split held as tensors (on the training device when it fits).

    Attributes:
        x: inputs ``[n, *input_shape]`` (float, already normalised).
        y: int64 labels ``[n]``.
        crop_padding: random-crop padding for augmentation (0 = no crop).
        flip: random horizontal flip for augmentation.
        pad_value: per-channel fill for the crop padding (the normalised value of a 0 pixel).
    """

    x: torch.Tensor
    y: torch.Tensor
    crop_padding: int = 0
    flip: bool = False
    pad_value: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def to(self, device: torch.device) -> "TensorSplit":
        pad = None if self.pad_value is None else self.pad_value.to(device)
        return TensorSplit(self.x.to(device), self.y.to(device), self.crop_padding, self.flip, pad)


def iterate_train(split: TensorSplit | Dataset, batch_size: int, seed: int, epoch: int,
                  device: torch.device, num_workers: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Shuffled training batches of one epoch (the last partial batch is kept)."""
    g = make_generator(derive_seed(seed, "train", epoch))
    if isinstance(split, TensorSplit):
        n = len(split)
        order = torch.randperm(n, generator=g)
        flips = torch.rand(n, generator=g) < 0.5 if split.flip else None
        p = split.crop_padding
        shifts = torch.randint(0, 2 * p + 1, (n, 2), generator=g) if p else None
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            x = split.x[idx.to(split.x.device)]
            if shifts is not None:
                x = _random_crop(x, shifts[idx].to(x.device), p, split.pad_value)
            if flips is not None:
                f = flips[idx].to(x.device)
                x = torch.where(f[:, None, None, None], x.flip(3), x)
            yield x, split.y[idx.to(split.y.device)]
        return
    loader = DataLoader(split, batch_size=batch_size, shuffle=True, generator=g, num_workers=num_workers,
                        pin_memory=device.type == "cuda", drop_last=False)
    for x, y in loader:
        yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)


def iterate_eval(split: TensorSplit | Dataset, batch_size: int, device: torch.device,
                 num_workers: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Evaluation batches in order, without augmentation."""
    if isinstance(split, TensorSplit):
        for start in range(0, len(split), batch_size):
            yield split.x[start:start + batch_size], split.y[start:start + batch_size]
        return
    loader = DataLoader(split, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    for x, y in loader:
        yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)


def _random_crop(x: torch.Tensor, shifts: torch.Tensor, pad: int, pad_value: torch.Tensor | None) -> torch.Tensor:
    """Per-sample random crop of the zero-padded (in pixel space) image, vectorised with gather."""
    n, c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    if pad_value is not None:
        border = torch.ones(1, 1, h, w, device=x.device, dtype=x.dtype)
        border = torch.nn.functional.pad(border, (pad, pad, pad, pad)) == 0
        padded = torch.where(border, pad_value.view(1, c, 1, 1).to(x.dtype), padded)
    rows = (torch.arange(h, device=x.device)[None, :] + shifts[:, 0:1])  # [n, h]
    cols = (torch.arange(w, device=x.device)[None, :] + shifts[:, 1:2])  # [n, w]
    idx_r = rows[:, None, :, None].expand(n, c, h, w + 2 * pad)
    out = padded.gather(2, idx_r)
    idx_c = cols[:, None, None, :].expand(n, c, h, w)
    return out.gather(3, idx_c)
