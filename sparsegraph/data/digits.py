"""The 8x8 handwritten digits shipped inside the package (see ``sparsegraph/data/README.md``)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from sparsegraph.errors import DatasetError

DIGITS_PATH = Path(__file__).with_name("digits.npz")
#: Arrays of ``digits.npz`` in checksum order.
DIGITS_KEYS = ("images", "labels", "train", "val", "test")
#: SHA-256 of the arrays (see :func:`digits_checksum`); made by ``datasets/make_digits.py``.
DIGITS_SHA256 = "5a2312e5c4a1ce227c9a7f5052f6a49a2eab482b08420744abe945f0d4cfc938"


def digits_checksum(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over each array's name, dtype, shape and C-order bytes, in :data:`DIGITS_KEYS` order.

    Unlike a hash of the ``.npz`` file, it does not depend on zip timestamps or compression level.
    """
    digest = hashlib.sha256()
    for key in DIGITS_KEYS:
        array = np.ascontiguousarray(arrays[key])
        digest.update(f"{key}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def read_digits(path: Path = DIGITS_PATH) -> dict[str, np.ndarray]:
    """The digits arrays: ``images`` uint8 [1797, 8, 8] (values 0-16), ``labels`` int64 [1797] and the
    fixed ``train``/``val``/``test`` index arrays, checked against :data:`DIGITS_SHA256`."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in DIGITS_KEYS}
    except (OSError, KeyError, ValueError) as error:
        raise DatasetError(f"dataset 'digits': cannot read {path}: {error}; reinstall sparsegraph") from None
    if digits_checksum(arrays) != DIGITS_SHA256:
        raise DatasetError(f"dataset 'digits': {path} does not match its pinned checksum; reinstall sparsegraph")
    return arrays
