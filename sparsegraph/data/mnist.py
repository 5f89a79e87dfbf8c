"""MNIST and Fashion-MNIST in torchvision's raw layout (IDX files, plain or gzipped)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

from sparsegraph.data.root import missing_dataset_error
from sparsegraph.data.source import ArraySource
from sparsegraph.errors import DatasetError

IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
CLASSES = {
    "mnist": tuple(str(d) for d in range(10)),
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                      "Bag", "Ankle boot"),
}


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """An unsigned-byte IDX array (``ndim`` dimensions) from ``path`` (``.gz`` is decompressed)."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise DatasetError(f"cannot read IDX file {path}: {error}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or raw[3] != ndim:
        raise DatasetError(f"{path} is not an unsigned-byte IDX file with {ndim} dimension(s)")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    offset = 4 + 4 * ndim
    if len(raw) - offset != int(np.prod(shape)):
        raise DatasetError(f"{path}: header says {shape} but holds {len(raw) - offset} bytes")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(shape)


def _find(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read_mnist(name: str, root: Path, folder: str, part: str) -> ArraySource:
    """The ``part`` ("train" or "test") of ``name`` stored under ``root / folder``."""
    directory = root / folder
    paths = []
    for stem in IDX_FILES[part]:
        path = _find(directory, stem)
        if path is None:
            raise missing_dataset_error(name, directory / stem, directory, downloadable=True)
        paths.append(path)
    images = read_idx(paths[0], 3)
    labels = read_idx(paths[1], 1)
    if len(images) != len(labels):
        raise DatasetError(f"{paths[0]} holds {len(images)} images but {paths[1]} {len(labels)} labels")
    return ArraySource(torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64)),
                       CLASSES[name])
