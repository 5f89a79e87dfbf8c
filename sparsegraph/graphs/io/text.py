"""Text helpers shared by the text writers and readers."""

from __future__ import annotations

import gzip
import io
import os
from typing import IO

import numpy as np

CHUNK_LINES = 2**18


def float32_strings(values: np.ndarray) -> np.ndarray:
    """The shortest decimal strings that round-trip each float32 (numpy's float32 repr), as objects.

    Formatting is the slow part and unrolled graphs repeat each weight at many positions, so each
    distinct bit pattern is formatted once (bits, not values, so that -0.0 keeps its sign).
    """
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    distinct, inverse = np.unique(bits, return_inverse=True)
    return distinct.view(np.float32).astype(str).astype(object)[inverse.ravel()]


def open_text(path: str | os.PathLike, mode: str, compressed: bool | None = None) -> IO[str]:
    """Open UTF-8 text with ``\\n`` line ends, gzip-compressed when ``compressed`` (default: the name
    ends in ``.gz``)."""
    if compressed if compressed is not None else os.fspath(path).endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, mode + "b"), encoding="utf-8", newline="\n")
    return open(path, mode, encoding="utf-8", newline="\n")


def chunks(n: int, size: int = CHUNK_LINES):
    """``(start, stop)`` ranges covering ``range(n)``."""
    for start in range(0, n, size):
        yield start, min(n, start + size)


def split_fields(text: str, num_columns: int, what: str) -> np.ndarray:
    """Tab- or space-separated lines as an ``(rows, num_columns)`` string array."""
    fields = text.split()
    if len(fields) % num_columns:
        raise ValueError(f"{what}: expected {num_columns} fields per line")
    return np.array(fields, dtype=str).reshape(-1, num_columns)
