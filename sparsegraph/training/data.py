"""Turning a registered dataset name into the three splits :func:`train` uses."""

from __future__ import annotations

import os

import torch

from sparsegraph.errors import UsageError
from sparsegraph.data import dataset_info, load_dataset, load_tensors
from sparsegraph.training.batches import TensorSplit
from sparsegraph.training.trainer import TrainData
from sparsegraph.utils.seed import derive_seed

#: Datasets whose raw pixels take less than this are held as whole tensors (pruning.md §6).
RESIDENT_LIMIT_BYTES = 2 * 2**30


def load_train_data(name: str, root: str | os.PathLike | None = None, *, val_split: int | None = None,
                    download: bool = False, data_path: str = "auto", seed: int = 0) -> TrainData:
    """Load train / val / test splits of a registered dataset for training.

    Args:
        name: a registered dataset name (see :func:`sparsegraph.data.list_datasets`).
        root: data root (default ``$SPARSEGRAPH_DATA``, else ``./datasets``).
        val_split: held-out val size (None: the dataset default; 0: no val split).
        download: allow torchvision downloads.
        data_path: ``tensors`` (raw uint8 splits held whole, cropped/flipped/normalised per batch on
            the training device), ``loader`` (a DataLoader over the dataset) or ``auto`` (tensors
            when the raw training set is under 2 GiB).
        seed: run seed; the DataLoader path augments with ``derive_seed(seed, "data")``.
    """
    info = dataset_info(name)
    if data_path not in ("auto", "tensors", "loader"):
        raise UsageError(f"data_path must be auto, tensors or loader, got {data_path!r}")
    train_ds = load_dataset(name, "train", root, download, val_split=val_split, seed=derive_seed(seed, "data"))
    c, h, w = info.input_shape
    resident = data_path == "tensors" or (data_path == "auto" and len(train_ds) * c * h * w < RESIDENT_LIMIT_BYTES)
    has_val = not (val_split == 0)

    if not resident:
        val = load_dataset(name, "val", root, val_split=val_split) if has_val else None
        return TrainData(train_ds, val, load_dataset(name, "test", root), name=info.name)

    def split(part: str, crop: int) -> TensorSplit:
        x, y = load_tensors(name, part, root, download, val_split, normalize=False)
        return TensorSplit(x, y.to(torch.int64), float(info.pixel_max), info.mean, info.std, crop)

    return TrainData(split("train", info.crop_padding or 0), split("val", 0) if has_val else None,
                     split("test", 0), name=info.name)
