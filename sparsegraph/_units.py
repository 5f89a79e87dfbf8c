"""Byte counts for people (a leaf module: the error messages use it, so it imports nothing of sparsegraph).

Example:
    >>> format_bytes(3 * 2**30), format_bytes(1536), format_bytes(12)
    ('3.0 GiB', '1.5 KiB', '12 B')
"""

from __future__ import annotations


def format_bytes(n: float) -> str:
    """Human-readable binary size, e.g. ``68 GiB``."""
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= scale:
            value = n / scale
            return f"{value:.0f} {unit}" if value >= 10 else f"{value:.1f} {unit}"
    return f"{int(n)} B"
