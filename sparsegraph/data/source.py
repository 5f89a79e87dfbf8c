"""Raw image sources: uint8 images [N, C, H, W] and int64 labels, in memory or decoded from files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sparsegraph.errors import DatasetError


@dataclass(frozen=True)
class ArraySource:
    """All images in memory.

    Attributes:
        images: uint8 tensor [N, C, H, W] of raw pixel values.
        labels: int64 tensor [N].
        classes: class names, indexed by label.
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)

    def read(self, indices: torch.Tensor) -> torch.Tensor:
        """uint8 images [len(indices), C, H, W]."""
        return self.images[indices]


@dataclass(frozen=True)
class FileSource:
    """Images decoded from files on demand (e.g. Tiny-ImageNet's JPEGs), as RGB.

    Attributes:
        paths: one image file per item.
        labels: int64 tensor [N].
        classes: class names, indexed by label.
        shape: the expected ``(C, H, W)`` of every decoded image.
    """

    paths: tuple[Path, ...]
    labels: torch.Tensor
    classes: tuple[str, ...]
    shape: tuple[int, int, int]

    def __len__(self) -> int:
        return len(self.labels)

    def read(self, indices: torch.Tensor) -> torch.Tensor:
        """uint8 images [len(indices), C, H, W], decoded now."""
        from PIL import Image, UnidentifiedImageError

        out = torch.empty((len(indices), *self.shape), dtype=torch.uint8)
        for slot, index in enumerate(indices.tolist()):
            path = self.paths[index]
            try:
                with Image.open(path) as file:
                    image = torch.from_numpy(np.array(file.convert("RGB"))).permute(2, 0, 1)
            except (OSError, UnidentifiedImageError) as error:
                raise DatasetError(f"cannot decode image {path}: {error}") from None
            if tuple(image.shape) != self.shape:
                raise DatasetError(f"image {path} has shape {tuple(image.shape)}, expected {self.shape}")
            out[slot] = image
        return out
