"""The torch Dataset that :func:`sparsegraph.data.load_dataset` returns."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from sparsegraph.data.registry import DatasetInfo
from sparsegraph.data.source import ArraySource, FileSource
from sparsegraph.data.transforms import normalize
from sparsegraph.utils import derive_seed


class ImageDataset(Dataset):
    """One split of a dataset: items are (normalised float32 image [C, H, W], int label).

    Augmentation (random crop after zero padding + horizontal flip) is deterministic per item: the
    offsets and flip of item ``i`` in epoch ``e`` come from ``derive_seed(seed, "augment", e, i)``, so
    results do not depend on DataLoader workers, shuffling or resumption. Call :meth:`set_epoch` at the
    start of every epoch to get fresh augmentations.

    Attributes:
        info: the dataset's :class:`~sparsegraph.data.DatasetInfo`.
        split: "train", "val" or "test".
        indices: int64 positions of this split's items in the underlying part (train or test files).
        labels: int64 label of every item of this split.
        classes: class names, indexed by label.
        augment: whether items are augmented.
        mean, std: the normalisation in use.
        seed: seed of the augmentation stream.
        epoch: current epoch of the augmentation stream.
    """

    def __init__(self, info: DatasetInfo, split: str, source: ArraySource | FileSource, indices: torch.Tensor,
                 *, augment: bool, mean: tuple[float, ...], std: tuple[float, ...], seed: int = 0):
        self.info = info
        self.split = split
        self.source = source
        self.indices = indices
        self.labels = source.labels[indices]
        self.classes = source.classes
        self.augment = augment
        self.mean = mean
        self.std = std
        self.seed = seed
        self.epoch = 0
        self._mean = torch.tensor(mean, dtype=torch.float32)
        self._std = torch.tensor(std, dtype=torch.float32)

    def __len__(self) -> int:
        return len(self.indices)

    def __repr__(self) -> str:
        return (f"ImageDataset({self.info.name!r}, split={self.split!r}, size={len(self)}, "
                f"augment={self.augment})")

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation draws of ``epoch``."""
        self.epoch = int(epoch)

    def __getitem__(self, position: int) -> tuple[torch.Tensor, int]:
        index = self.indices[[position]]
        image = self.source.read(index)[0]
        if self.augment:
            image = self._augment(image, int(index[0]))
        return normalize(image, self.info.pixel_max, self._mean, self._std), int(self.source.labels[index[0]])

    def _augment(self, image: torch.Tensor, index: int) -> torch.Tensor:
        """One image's crop + flip, the same operation as :func:`crop_flip`; plain slicing is ~10x faster
        than its batched gather for a single image."""
        padding = self.info.crop_padding
        size = 2 * padding + 1
        draw = derive_seed(self.seed, "augment", self.epoch, index)
        top, left, flip = draw % size, (draw // size) % size, (draw // size**2) % 2
        _, height, width = image.shape
        padded = F.pad(image, (padding, padding, padding, padding))
        crop = padded[:, top : top + height, left : left + width]
        return crop.flip(-1) if flip else crop

    def raw_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All items unaugmented: raw uint8 images [N, C, H, W] (values up to ``info.pixel_max``) and
        int64 labels [N]. Decodes every file for file-backed datasets (Tiny-ImageNet: minutes)."""
        return self.source.read(self.indices), self.labels.clone()

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All items unaugmented and normalised: float32 images [N, C, H, W] and int64 labels [N]."""
        images, labels = self.raw_tensors()
        return normalize(images, self.info.pixel_max, self._mean, self._std), labels
