"""Small helpers shared by every stage: seeds, devices, atomic file writes, size strings."""

from sparsegraph.utils.atomic import atomic_path, atomic_write_bytes, atomic_write_text
from sparsegraph.utils.device import resolve_device
from sparsegraph.utils.seed import derive_seed, make_generator, resolve_seed
from sparsegraph.utils.sizes import format_bytes, parse_bytes

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "derive_seed",
    "format_bytes",
    "make_generator",
    "parse_bytes",
    "resolve_device",
    "resolve_seed",
]
