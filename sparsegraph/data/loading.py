"""``load_dataset`` and ``load_tensors``: a named split of a registered dataset."""

from __future__ import annotations

import os

import numpy as np
import torch

from sparsegraph.data.cifar import read_cifar
from sparsegraph.data.dataset import ImageDataset
from sparsegraph.data.digits import read_digits
from sparsegraph.data.download import download_dataset
from sparsegraph.data.mnist import read_mnist
from sparsegraph.data.registry import SEED_CIFAR10_STD, DatasetInfo, dataset_info
from sparsegraph.data.root import resolve_data_root
from sparsegraph.data.source import ArraySource, FileSource
from sparsegraph.data.splits import SPLIT_SEED, stratified_split
from sparsegraph.data.tinyimagenet import read_tinyimagenet
from sparsegraph.errors import DatasetError, UsageError

SPLITS = ("train", "val", "test")


def _digits_split(split: str, val_split: int | None) -> tuple[ArraySource, torch.Tensor]:
    arrays = read_digits()
    source = ArraySource(torch.from_numpy(arrays["images"]).unsqueeze(1), torch.from_numpy(arrays["labels"]),
                         tuple(str(d) for d in range(10)))
    if val_split == 0:  # no held-out set: val joins train
        if split == "val":
            raise UsageError("dataset 'digits' has no val split when val_split=0")
        if split == "train":
            return source, torch.from_numpy(np.sort(np.concatenate([arrays["train"], arrays["val"]])))
    return source, torch.from_numpy(arrays[split])


def _read_part(info: DatasetInfo, part: str, root: os.PathLike | str | None,
               download: bool) -> ArraySource | FileSource:
    """The official ``part`` ("train" or "test") of a dataset stored under the data root."""
    directory = resolve_data_root(root)
    if download:
        if not info.downloadable:
            raise DatasetError(f"dataset '{info.name}' cannot be downloaded automatically; put the extracted "
                               f"archive at {directory / info.folder}; see datasets/README.md")
        download_dataset(info.name, directory)
    if info.name in ("cifar10", "cifar100"):
        return read_cifar(info.name, directory, part)
    if info.name in ("mnist", "fashion-mnist"):
        return read_mnist(info.name, directory, info.folder, part)
    return read_tinyimagenet(directory, part)


def _select(info: DatasetInfo, split: str, root, download: bool,
            val_split: int | None) -> tuple[ArraySource | FileSource, torch.Tensor]:
    """The source holding ``split`` and the positions of its items in it."""
    if split not in SPLITS:
        raise UsageError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    if val_split is not None and (isinstance(val_split, bool) or not isinstance(val_split, (int, np.integer))
                                  or val_split < 0):
        raise UsageError(f"val_split must be a non-negative integer or None, got {val_split!r}")
    if info.folder is None:
        return _digits_split(split, val_split)
    source = _read_part(info, "test" if split == "test" else "train", root, download)
    if split == "test":
        return source, torch.arange(len(source))
    num_val = info.default_val_split if val_split is None else val_split
    if num_val == 0:
        if split == "val":
            raise UsageError(f"dataset '{info.name}' has no val split when val_split=0")
        return source, torch.arange(len(source))
    if num_val >= len(source):
        raise UsageError(f"val_split={num_val} leaves no training data: '{info.name}' has {len(source)} "
                         "training images")
    train, val = stratified_split(source.labels, num_val, seed=SPLIT_SEED)
    return source, torch.from_numpy(train if split == "train" else val)


def _normalization(info: DatasetInfo, normalization: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    if normalization == "standard":
        return info.mean, info.std
    if normalization == "seed" and info.name == "cifar10":
        return info.mean, SEED_CIFAR10_STD
    raise UsageError(f"normalization {normalization!r} is not available for '{info.name}'; "
                     f"valid: 'standard'" + (", 'seed'" if info.name == "cifar10" else ""))


def load_dataset(name: str, split: str, root: str | os.PathLike | None = None, download: bool = False,
                 augment: bool | None = None, val_split: int | None = None, *,
                 normalization: str = "standard", seed: int = 0) -> ImageDataset:
    """One split of a registered dataset as a torch Dataset of (float32 image [C, H, W], int label).

    Args:
        name: a name from :func:`list_datasets` or an alias ("fashionmnist", "tiny-imagenet", ...).
        split: "train", "val" (held out from the training set) or "test" (the official test set;
            Tiny-ImageNet's official val set).
        root: data root; default ``$SPARSEGRAPH_DATA``, else ``./datasets`` (see
            :func:`resolve_data_root`). Unused by ``digits``, which ships in the package.
        download: fetch a missing dataset with torchvision's downloaders (not Tiny-ImageNet).
        augment: random crop with zero padding + horizontal flip (CIFAR, Tiny-ImageNet). None: on for
            the train split of those datasets, off otherwise. True for a dataset without augmentation
            (MNIST, Fashion-MNIST, digits) is an error.
        val_split: size of the class-stratified val set held out from the training set with split
            seed 0 (independent of any run seed); None: 5000 (``digits``: its fixed 70/10/20 split,
            also used for any positive value). 0: no val set; train is the whole training set.
        normalization: "standard" (the registry's mean/std) or, for CIFAR-10, "seed" (std
            0.2023/0.1994/0.2010 as in the seed's code).
        seed: seed of the augmentation stream (pass e.g. ``derive_seed(run_seed, "data")``).

    Raises:
        DatasetError: unknown name or missing/unreadable files (one line naming the path and remedy).
        UsageError: unknown split, bad ``val_split``, ``split="val"`` with ``val_split=0``, or
            augmentation requested where the dataset has none.
    """
    info = dataset_info(name)
    if augment is None:
        augment = split == "train" and info.crop_padding is not None
    elif augment and info.crop_padding is None:
        raise UsageError(f"dataset '{info.name}' has no augmentation; pass augment=None or False")
    mean, std = _normalization(info, normalization)
    source, indices = _select(info, split, root, download, val_split)
    return ImageDataset(info, split, source, indices, augment=bool(augment), mean=mean, std=std, seed=seed)


def load_tensors(name: str, split: str, root: str | os.PathLike | None = None, download: bool = False,
                 val_split: int | None = None, *, normalize: bool = True,
                 normalization: str = "standard") -> tuple[torch.Tensor, torch.Tensor]:
    """A whole split as tensors ``(x, y)`` on CPU, unaugmented: the fast path for small datasets.

    ``x`` is float32 [N, C, H, W] normalised as in :func:`load_dataset`, or with ``normalize=False``
    the raw uint8 pixels (values up to ``dataset_info(name).pixel_max``) for GPU-resident training
    that crops, flips and normalises per batch (:func:`random_crop_flip`, :func:`normalize`);
    ``y`` is int64 [N]. Arguments as in :func:`load_dataset`.
    """
    dataset = load_dataset(name, split, root, download, False, val_split, normalization=normalization)
    return dataset.tensors() if normalize else dataset.raw_tensors()
