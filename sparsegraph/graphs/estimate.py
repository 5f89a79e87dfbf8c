"""Memory estimates and the size limit (graphs.md §6).

``bytes ≈ 1.1·(E·(18 + b_e) + N·b_n)``: 18 bytes per edge for the internal arrays (int32 source and
target, float32 weight and signed weight, int16 set id) plus the target's own cost per edge ``b_e``
and per node ``b_n``. The constants live in :data:`BYTES_PER_ITEM`, which
``benchmarks/bench_export.py`` refreshes.
"""

from __future__ import annotations

import os

from sparsegraph.errors import GraphTooLargeError, UsageError
from sparsegraph.utils.sizes import format_bytes, parse_bytes

#: target -> (bytes per edge b_e, bytes per node b_n)
BYTES_PER_ITEM: dict[str, tuple[int, int]] = {
    "arrays": (36, 0),      # 18 transient while sorting, plus the arrays themselves
    "scipy": (24, 4),       # float32 data + int32 indices, 16 transient (COO -> CSR)
    "pyg": (24, 32),
    "igraph": (120, 100),   # 33 structure, ~40 per float attribute, 8 for the name
    "networkx": (400, 650),
    "stream": (0, 8),       # streamed files: E is the largest edge set, not the whole graph
}
INTERNAL_BYTES_PER_EDGE = 18
DEFAULT_MAX_BYTES = 4 * 2**30
ENV_VAR = "SPARSEGRAPH_MAX_BYTES"


def estimate_bytes(num_nodes: int, num_edges: int, target: str) -> int:
    """Estimated peak bytes to hold a graph of this size as ``target``."""
    if target not in BYTES_PER_ITEM:
        raise UsageError(f"unknown target {target!r}; expected one of: " + ", ".join(BYTES_PER_ITEM))
    b_e, b_n = BYTES_PER_ITEM[target]
    return int(1.1 * (num_edges * (INTERNAL_BYTES_PER_EDGE + b_e) + num_nodes * b_n))


def resolve_max_bytes(max_bytes: int | str | None = None) -> int:
    """The limit: ``max_bytes`` if given, else ``$SPARSEGRAPH_MAX_BYTES``, else 4 GiB."""
    if max_bytes is not None:
        value = parse_bytes(max_bytes)
    elif os.environ.get(ENV_VAR):
        try:
            value = parse_bytes(os.environ[ENV_VAR])
        except ValueError as exc:
            raise UsageError(f"{ENV_VAR}: {exc}") from None
    else:
        value = DEFAULT_MAX_BYTES
    if value <= 0:
        raise UsageError(f"the memory limit must be positive, got {value}")
    return value


def check_limit(num_nodes: int, num_edges: int, target: str, max_bytes: int | str | None = None,
                what: str = "the graph") -> int:
    """Raise :class:`GraphTooLargeError` when ``target`` would need more than the limit.

    Returns:
        the estimate in bytes.
    """
    need = estimate_bytes(num_nodes, num_edges, target)
    limit = resolve_max_bytes(max_bytes)
    if need > limit:
        # streaming is already the low-memory route: suggesting it again would send the user in a circle
        alternative = "" if target == "stream" else ", or stream to edgelist/npz/mtx with sparsegraph export"
        raise GraphTooLargeError(
            f"{what} has {num_nodes:,} nodes and {num_edges:,} edges; target '{target}' needs about "
            f"{format_bytes(need)}, above the limit of {format_bytes(limit)}. Raise it with max_bytes=..., "
            f"--max-memory or {ENV_VAR}{alternative}.",
            num_nodes=num_nodes, num_edges=num_edges, target=target, estimate_bytes=need, limit_bytes=limit)
    return need
