"""CIFAR-10 / CIFAR-100 in the torchvision "python version" layout, read without general unpickling.

The batch files are Python pickles. They are read with an unpickler that can build only dicts, lists,
strings, numbers and numpy arrays, so a tampered file cannot run code.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from sparsegraph.data.root import missing_dataset_error
from sparsegraph.data.source import ArraySource
from sparsegraph.errors import DatasetError

# name -> (folder, files per part, label key, meta file, class-name key)
CIFAR_LAYOUTS: dict[str, tuple[str, dict[str, tuple[str, ...]], str, str, str]] = {
    "cifar10": ("cifar-10-batches-py",
                {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)},
                "labels", "batches.meta", "label_names"),
    "cifar100": ("cifar-100-python", {"train": ("train",), "test": ("test",)},
                 "fine_labels", "meta", "fine_label_names"),
}


def _numpy_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler limited to the globals a pickled numpy array needs."""

    _ALLOWED = {
        ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
        ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
        ("numpy", "ndarray"): lambda: np.ndarray,
        ("numpy", "dtype"): lambda: np.dtype,
        ("_codecs", "encode"): lambda: __import__("codecs").encode,
    }

    def find_class(self, module: str, name: str):
        factory = self._ALLOWED.get((module, name))
        if factory is None:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
        return factory()


def read_pickle(path: Path) -> dict:
    """A CIFAR batch dict (Python 2 pickles, hence latin1 strings)."""
    try:
        with open(path, "rb") as file:
            content = _ArrayUnpickler(file, encoding="latin1").load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError) as error:
        raise DatasetError(f"cannot read CIFAR file {path}: {error}") from None
    if not isinstance(content, dict):
        raise DatasetError(f"cannot read CIFAR file {path}: expected a dict, got {type(content).__name__}")
    return content


def read_cifar(name: str, root: Path, part: str) -> ArraySource:
    """The ``part`` ("train" or "test") of ``name`` ("cifar10" or "cifar100") under ``root``."""
    folder, files, label_key, meta_file, names_key = CIFAR_LAYOUTS[name]
    directory = root / folder
    for file in (*files[part], meta_file):
        if not (directory / file).is_file():
            raise missing_dataset_error(name, directory / file, directory, downloadable=True)
    images, labels = [], []
    for file in files[part]:
        batch = read_pickle(directory / file)
        try:
            data = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            targets = np.asarray(batch[label_key], dtype=np.int64)
        except (KeyError, ValueError) as error:
            raise DatasetError(f"malformed CIFAR file {directory / file}: {error!r}") from None
        if len(data) != len(targets):
            raise DatasetError(f"malformed CIFAR file {directory / file}: {len(data)} images, "
                               f"{len(targets)} labels")
        images.append(data)
        labels.append(targets)
    classes = tuple(read_pickle(directory / meta_file).get(names_key, ()))
    return ArraySource(torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels)),
                       classes)
