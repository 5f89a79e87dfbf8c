"""The data model shared by every graph: partitions, edge sets and flat edge arrays.

A graph is a directed graph whose nodes are numbered partition by partition
(``node id = partition.offset + local``) and whose edges are grouped in named edge sets (one per
layer, or per identity shortcut). Edges are stored as flat numpy arrays in canonical order:
edge sets in trace order, then ascending ``(source, target)`` inside each set (compat modes may
use a published order instead). Every converter and writer is built from these arrays.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np

from sparsegraph._version import __version__
from sparsegraph.graphs.estimate import estimate_bytes
from sparsegraph.graphs.formats import CONVERTERS, save_graph


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

    #: True for one layer's bipartite graph (left -> right); converters test this, not the class.
    single_layer: ClassVar[bool] = False

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
        return graph_attributes(self.attrs, self.partitions, self.edge_sets)

    def describe(self) -> str:
        """A short phrase naming the graph for messages, e.g. ``encoding 'unrolled' of resnet20``."""
        model = self.attrs.get("model")
        return f"encoding '{self.attrs.get('encoding')}'" + (f" of {model}" if model else "")

    def node_table(self) -> dict[str, np.ndarray]:
        """Node attributes of graphs.md §3 as numpy columns (``layer`` is an object array)."""
        return node_table(self.partitions)

    def estimate_bytes(self, target: str) -> int:
        """Estimated bytes to convert this graph to ``target`` (``scipy``, ``pyg``, ``igraph``,
        ``networkx``, ``arrays`` or ``stream``); see graphs.md §6."""
        return estimate_bytes(self.num_nodes, self.num_edges, target)

    def to_scipy(self, weight: str | None = "weight", *, max_bytes: int | str | None = None):
        """The N×N adjacency ``A[src, dst]`` as a ``scipy.sparse.csr_array`` (cross-set duplicates summed).

        Args:
            weight: ``"weight"``, ``"signed_weight"`` or None (ones).
            max_bytes: memory limit (default: ``SPARSEGRAPH_MAX_BYTES`` or 4 GiB).
        """
        return CONVERTERS.get("scipy").adjacency(self, weight, max_bytes=max_bytes)

    def block(self, i: int, j: int, weight: str | None = "weight"):
        """The block of the adjacency from partition ``i`` to partition ``j`` (a CSR array)."""
        return CONVERTERS.get("scipy").block(self, i, j, weight)

    def to_pyg(self, homogeneous: bool = False, *, max_bytes: int | str | None = None):
        """A PyTorch Geometric object (graphs.md §4): ``Data`` for a bipartite graph or with
        ``homogeneous=True``, else a ``HeteroData`` with one node type per partition."""
        return CONVERTERS.get("pyg").to_pyg(self, homogeneous=homogeneous, max_bytes=max_bytes)

    def to_igraph(self, *, max_bytes: int | str | None = None):
        """A directed ``igraph.Graph`` built in one constructor call, with §3 attributes."""
        return CONVERTERS.get("igraph").to_igraph(self, max_bytes=max_bytes)

    def to_networkx(self, *, max_bytes: int | str | None = None):
        """A networkx ``DiGraph`` (``MultiDiGraph`` when edge sets share a pair), with §3 attributes."""
        return CONVERTERS.get("networkx").to_networkx(self, max_bytes=max_bytes)

    def save(self, path: str | os.PathLike, format: str | None = None, **options: Any) -> None:
        """Write the graph to a file (graphs.md §5); without ``format`` the suffix decides.

        Options: ``signed=True`` (edge list: add ``signed_weight``), ``compressed=True`` (npz).
        """
        save_graph(self, path, format, **options)


DERIVED_ATTRIBUTES = ("format", "num_nodes", "num_edges", "directed", "partitions", "edge_sets")


def graph_attributes(attrs: dict[str, Any], partitions: list[Partition], edge_sets: list[EdgeSet]
                     ) -> dict[str, Any]:
    """The graph attributes of graphs.md §3 from the stored ``attrs`` and the tables."""
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
    out.update({k: v for k, v in attrs.items() if k not in DERIVED_ATTRIBUTES})
    num_nodes = partitions[-1].offset + partitions[-1].size if partitions else 0
    out["num_nodes"] = int(num_nodes)
    out["num_edges"] = int(sum(s.num_edges for s in edge_sets))
    out["partitions"] = [p.to_dict() for p in partitions]
    out["edge_sets"] = [s.to_dict() for s in edge_sets]
    return out


def stored_attributes(meta: dict[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`graph_attributes`: the ``attrs`` to store for read-back metadata."""
    return {k: v for k, v in meta.items() if k not in DERIVED_ATTRIBUTES}


def node_partition(partitions: list[Partition], ids: np.ndarray) -> np.ndarray:
    """The partition index of each node id."""
    starts = np.array([p.offset for p in partitions], dtype=np.int64)
    return np.searchsorted(starts, ids, side="right") - 1


def node_table(partitions: list[Partition]) -> dict[str, np.ndarray]:
    """``partition``, ``layer``, ``index``, ``channel``, ``y``, ``x`` for every node (graphs.md §3).

    With ``local = id − offset``: for coords ``chw``/``ckk`` of shape (C, H, W),
    ``channel = local // (H·W)``, ``y = (local // W) % H − pad``, ``x = local % W − pad``; for ``c``,
    ``channel = local``; for ``f`` only ``index``. Undefined entries are −1.
    """
    sizes = np.array([p.size for p in partitions], dtype=np.int64)
    offsets = np.array([p.offset for p in partitions], dtype=np.int64)
    part = np.repeat(np.arange(len(partitions), dtype=np.int64), sizes)
    local = np.arange(part.size, dtype=np.int64) - offsets[part]
    spatial = np.array([p.coords in ("chw", "ckk") for p in partitions], dtype=bool)
    channel_only = np.array([p.coords == "c" for p in partitions], dtype=bool)
    H = np.array([p.shape[1] if p.coords in ("chw", "ckk") else 1 for p in partitions], dtype=np.int64)
    W = np.array([p.shape[2] if p.coords in ("chw", "ckk") else 1 for p in partitions], dtype=np.int64)
    pad = np.array([p.pad for p in partitions], dtype=np.int64)
    h, w, is_sp = H[part], W[part], spatial[part]
    channel = np.where(is_sp, local // (h * w), np.where(channel_only[part], local, -1))
    y = np.where(is_sp, (local // w) % h - pad[part], -1)
    x = np.where(is_sp, local % w - pad[part], -1)
    names = np.array([p.name for p in partitions], dtype=object)
    return {"partition": part, "layer": names[part], "index": local, "channel": channel, "y": y, "x": x}
