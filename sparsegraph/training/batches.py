"""Training and evaluation batches: whole-split tensors or a DataLoader, seeded per epoch.

Every epoch's order and augmentation come from its own CPU generator,
``derive_seed(seed, "train", epoch)``, so a resumed run sees exactly the batches an uninterrupted
run would have seen, without saving generator states.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch
from torch.utils.data import DataLoader, Dataset

from sparsegraph.data.transforms import normalize, random_crop_flip
from sparsegraph.utils.seed import derive_seed, make_generator


@dataclass
class TensorSplit:
    """A whole split held as tensors (on the training device), transformed per batch.

    Attributes:
        x: inputs ``[n, ...]``: raw pixels when ``pixel_max`` is set, else ready-to-use floats.
        y: int64 labels ``[n]``.
        pixel_max, mean, std: per-batch normalisation ``(x / pixel_max - mean) / std`` (None: none).
        crop_padding: random crop after zero padding, plus horizontal flip (0: no augmentation).
    """

    x: torch.Tensor
    y: torch.Tensor
    pixel_max: float | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    crop_padding: int = 0

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def targets(self) -> torch.Tensor:
        """The labels (the attribute torchvision datasets use)."""
        return self.y

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        """One normalised, unaugmented item: a map-style dataset view (e.g. for scoring batches)."""
        x, y = self.batch(torch.tensor([index]))
        return x[0], int(y[0])

    def to(self, device: torch.device) -> "TensorSplit":
        return TensorSplit(self.x.to(device), self.y.to(device), self.pixel_max, self.mean, self.std,
                           self.crop_padding)

    def batch(self, idx: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows ``idx``, augmented with ``generator`` when the split augments, then normalised."""
        idx = idx.to(self.x.device)
        x = self.x[idx]
        if self.crop_padding and generator is not None:
            x = random_crop_flip(x, self.crop_padding, generator)
        if self.pixel_max is not None:
            x = normalize(x, self.pixel_max, self.mean, self.std)
        return x, self.y[idx]


def iterate_train(split: TensorSplit | Dataset, batch_size: int, seed: int, epoch: int,
                  device: torch.device, num_workers: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Shuffled training batches of one epoch (the last partial batch is kept)."""
    g = make_generator(derive_seed(seed, "train", epoch))
    if isinstance(split, TensorSplit):
        order = torch.randperm(len(split), generator=g)
        for start in range(0, len(split), batch_size):
            yield split.batch(order[start:start + batch_size], g)
        return
    if hasattr(split, "set_epoch"):
        split.set_epoch(epoch)
    loader = DataLoader(split, batch_size=batch_size, shuffle=True, generator=g, num_workers=num_workers,
                        pin_memory=device.type == "cuda", drop_last=False)
    for x, y in loader:
        yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)


def iterate_eval(split: TensorSplit | Dataset, batch_size: int, device: torch.device,
                 num_workers: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Evaluation batches in order, without augmentation."""
    if isinstance(split, TensorSplit):
        for start in range(0, len(split), batch_size):
            yield split.batch(torch.arange(start, min(start + batch_size, len(split))))
        return
    loader = DataLoader(split, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    for x, y in loader:
        yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)
