"""The data model shared by every graph: partitions, edge sets and flat edge arrays.

A graph is a directed graph whose nodes are numbered partition by partition
(``node id = partition.offset + local``) and whose edges are grouped in named edge sets (one per
layer, or per identity shortcut). Edges are stored as flat numpy arrays in canonical order:
edge sets in trace order, then ascending ``(source, target)`` inside each set (compat modes may
use a published order instead). Every converter and writer is built from these arrays.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Partition:
    """A contiguous block of node ids with a per-sample shape.

    Attributes:
        index: position in the partition table.
        name: ``input``, a layer FQN, ``<M>.add``, or ``<layer>:in`` / ``<layer>:out`` in layer graphs.
        kind: ``input``, ``conv``, ``linear``, ``add``, ``left`` or ``right``.
        layer: the layer FQN the partition belongs to (``""`` for the input).
        offset: first node id.
        size: number of nodes.
        shape: per-sample shape, e.g. ``(C, H, W)``, ``(C, kh, kw)``, ``(C,)`` or ``(F,)``.
        coords: how local ids map to coordinates: ``chw``, ``ckk``, ``c`` or ``f``.
        pad: padding added on each side of the spatial grid (compat input partitions only).
    """

    index: int
    name: str
    kind: str
    layer: str
    offset: int
    size: int
    shape: tuple[int, ...]
    coords: str
    pad: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["shape"] = list(self.shape)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Partition":
        return cls(**{**d, "shape": tuple(d["shape"])})


@dataclass(frozen=True)
class EdgeSet:
    """A named group of edges (one layer, one shortcut, or one identity shortcut).

    Attributes:
        index: position in the edge-set table (the ``set`` id of its edges).
        name: the edge attribute ``layer`` (layer FQN or ``<M>.identity``).
        kind: ``conv``, ``linear``, ``shortcut`` or ``identity``.
        src_partitions: partitions its sources lie in.
        dst_partitions: partitions its targets lie in.
        num_edges: number of edges in the set.
    """

    index: int
    name: str
    kind: str
    src_partitions: tuple[int, ...]
    dst_partitions: tuple[int, ...]
    num_edges: int

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["src_partitions"] = list(self.src_partitions)
        d["dst_partitions"] = list(self.dst_partitions)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "EdgeSet":
        return cls(**{**d, "src_partitions": tuple(d["src_partitions"]),
                      "dst_partitions": tuple(d["dst_partitions"])})


@dataclass
class EdgeArrays:
    """Flat edge columns in canonical order.

    Attributes:
        src, dst: int64 global node ids.
        weight: float32 ``|w|`` (1.0 for graphs built from a mask alone).
        signed_weight: float32 ``w``.
        edge_set: int32 index into the graph's edge-set table.
        multiplicity: int32 merge counts, or None when no duplicate pairs were merged.
    """

    src: np.ndarray
    dst: np.ndarray
    weight: np.ndarray
    signed_weight: np.ndarray
    edge_set: np.ndarray
    multiplicity: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.src.shape[0])


@dataclass
class Graph:
    """Base class of :class:`BipartiteGraph` and :class:`MultipartiteGraph`.

    Attributes:
        partitions: the partition table, in id order.
        edge_sets: the edge-set table.
        arrays: the edge columns.
        attrs: graph attributes (``encoding``, ``compat``, ``model``, ``mask_fingerprint``,
            ``input_shape``, ``support``, ``weighted``, ``unmasked_layers`` ...); the derived ones
            (``format``, ``num_nodes``, ``num_edges``, ``directed``, ``sparsegraph_version``, tables)
            are added by :meth:`graph_attributes`.
    """

    partitions: list[Partition]
    edge_sets: list[EdgeSet]
    arrays: EdgeArrays
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def num_nodes(self) -> int:
        return int(self.partitions[-1].offset + self.partitions[-1].size) if self.partitions else 0

    @property
    def num_edges(self) -> int:
        return len(self.arrays)

    @property
    def offsets(self) -> np.ndarray:
        """Partition boundaries, int64 of length P+1."""
        return np.array([p.offset for p in self.partitions] + [self.num_nodes], dtype=np.int64)

    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(src, dst, weight, signed_weight, edge_set)`` numpy columns in canonical order."""
        a = self.arrays
        return a.src, a.dst, a.weight, a.signed_weight, a.edge_set

    def graph_attributes(self) -> dict[str, Any]:
        """The full graph-attribute dictionary of graphs.md §3."""
        from sparsegraph._version import __version__

        out: dict[str, Any] = {
            "format": "sparsegraph.graph/1",
            "encoding": None,
            "compat": None,
            "model": None,
            "mask_fingerprint": None,
            "input_shape": None,
            "sparsegraph_version": __version__,
            "support": None,
            "weighted": False,
            "directed": True,
            "unmasked_layers": [],
        }
        out.update(self.attrs)
        out["num_nodes"] = self.num_nodes
        out["num_edges"] = self.num_edges
        out["partitions"] = [p.to_dict() for p in self.partitions]
        out["edge_sets"] = [s.to_dict() for s in self.edge_sets]
        return out
