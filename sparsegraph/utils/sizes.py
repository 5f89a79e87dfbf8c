"""Byte-size strings such as ``8GB``, ``512MiB`` or ``1000000``."""

from __future__ import annotations

import re

from sparsegraph._units import format_bytes
from sparsegraph.errors import UsageError

__all__ = ["format_bytes", "parse_bytes"]

_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
    "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40,
}


def parse_bytes(text: str | int) -> int:
    """Parse ``8GB``, ``512MiB``, ``1.5G`` or a plain integer into a byte count."""
    if isinstance(text, int):
        return text
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", str(text))
    if not m or m.group(2).lower() not in _UNITS:
        raise UsageError(f"invalid size {text!r}: expected e.g. 8GB, 512MiB or an integer number of bytes")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])
