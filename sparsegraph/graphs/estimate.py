"""Memory estimates and the size limit (graphs.md §6); file-size estimates of the writers.

``bytes ≈ 1.1·(E·(18 + b_e) + N·b_n)``: 18 bytes per edge for the internal arrays (int32 source and
target, float32 weight and signed weight, int16 set id) plus the target's own cost per edge ``b_e``
and per node ``b_n``. The constants live in :data:`BYTES_PER_ITEM`, which
``benchmarks/bench_export.py`` refreshes.

:func:`estimate_file_bytes` estimates what a writer puts on disk (the file, plus the scratch arrays
of the npz and mtx writers) from the partition and edge-set tables alone, before anything is
generated: exact for npz, within about 20% for the text formats (weights are written as the
shortest round-tripping decimal, about 11 characters), and a rough fifth of the text for ``.gz``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from sparsegraph.errors import GraphTooLargeError
from sparsegraph.utils.memory import ENV_VAR, resolve_max_bytes
from sparsegraph.utils.sizes import format_bytes

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


def estimate_bytes(num_nodes: int, num_edges: int, target: str) -> int:
    """Estimated peak bytes to hold a graph of this size as ``target``."""
    if target not in BYTES_PER_ITEM:
        raise ValueError(f"unknown target {target!r}; expected one of: " + ", ".join(BYTES_PER_ITEM))
    b_e, b_n = BYTES_PER_ITEM[target]
    return int(1.1 * (num_edges * (INTERNAL_BYTES_PER_EDGE + b_e) + num_nodes * b_n))


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


#: characters of one float32 weight in the text formats (shortest round-tripping decimal, with its separator)
WEIGHT_CHARS = 12
#: assumed gzip ratio of the text formats
GZIP_RATIO = 5


@dataclass(frozen=True)
class FileEstimate:
    """What a writer is expected to put on disk.

    Attributes:
        file_bytes: the size of the output file (and its sidecar).
        scratch_bytes: temporary files beside it while writing (removed afterwards).
    """

    file_bytes: int
    scratch_bytes: int = 0

    @property
    def needed_bytes(self) -> int:
        """The free space the write needs."""
        return self.file_bytes + self.scratch_bytes


def estimate_file_bytes(graph, fmt: str, path: str | os.PathLike = "", **options: Any) -> FileEstimate:
    """The expected size of ``graph`` (a :class:`Graph` or an :class:`EdgeStream`) written as ``fmt``.

    Only the tables are read (node and edge counts, names), so it costs nothing for a stream.
    ``options`` are the writer's (``signed`` edge lists are longer, ``homogeneous`` PyG files smaller;
    a ``compressed`` npz is estimated at its uncompressed size, an upper bound).
    """
    signed, homogeneous = bool(options.get("signed")), bool(options.get("homogeneous"))
    partitions, edge_sets = graph.partitions, graph.edge_sets
    num_nodes = int(partitions[-1].offset + partitions[-1].size) if partitions else 0
    num_edges = int(sum(s.num_edges for s in edge_sets))
    digits = len(str(max(num_nodes - 1, 0))) + 1  # an id and its separator
    tables = 300 * (len(partitions) + len(edge_sets)) + 2000  # metadata, sidecar, headers
    set_names = sum(s.num_edges * len(s.name) for s in edge_sets)
    if fmt == "edgelist":
        text = num_edges * (2 * digits + WEIGHT_CHARS * (2 if signed else 1) + 1) + set_names
        gz = os.fspath(path).endswith(".gz")
        return FileEstimate(tables + (text // GZIP_RATIO if gz else text))
    if fmt == "graphml":
        node_line = 20 + digits + sum(len(f'<data key="v_{k}"></data>') + 3 for k in range(6))
        node_names = sum(p.size * len(escape(p.name)) for p in partitions)
        edge_line = 36 + 2 * digits + 3 * len('<data key="e_signed_weight"></data>') + 2 * WEIGHT_CHARS
        return FileEstimate(tables + num_nodes * node_line + node_names + num_edges * edge_line + set_names)
    if fmt in ("npz", "mtx"):
        index_bytes = 4 if num_nodes < 2**31 else 8
        arrays = num_edges * (index_bytes + 4 + 4 + 2 + (4 if getattr(graph, "has_multiplicity", False) else 0))
        if fmt == "mtx":
            return FileEstimate(tables + num_edges * (2 * digits + WEIGHT_CHARS), arrays)
        return FileEstimate(tables + arrays + 8 * (num_nodes + 1), arrays)
    if fmt == "pyg":
        return FileEstimate(tables + num_edges * (32 if homogeneous else 24) + num_nodes * (8 if homogeneous else 48))
    raise ValueError(f"unknown format {fmt!r}")
