"""Small helpers shared by every stage: seeds, devices, atomic file writes, state-dict files, size strings."""

from sparsegraph.utils.atomic import atomic_path, atomic_write_bytes, atomic_write_text
from sparsegraph.utils.device import resolve_device
from sparsegraph.utils.seed import derive_seed, make_generator, resolve_seed
from sparsegraph.utils.sizes import format_bytes, parse_bytes
from sparsegraph.utils.state_dict import load_state_dict, save_state_dict

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "derive_seed",
    "format_bytes",
    "load_state_dict",
    "make_generator",
    "parse_bytes",
    "resolve_device",
    "resolve_seed",
    "save_state_dict",
]
