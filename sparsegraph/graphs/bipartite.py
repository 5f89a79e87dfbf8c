"""One layer as a bipartite graph (left = inputs, right = outputs)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from sparsegraph.graphs.base import EdgeArrays, EdgeSet, Graph, Partition


@dataclass
class BipartiteGraph(Graph):
    """A layer's bipartite graph: left ids ``0..L-1``, right ids ``L..L+R-1``, edges left -> right.

    Extra attributes (in ``attrs``): ``tensor_nnz`` and ``tensor_numel`` of the underlying weight
    tensor's support (used by the ``density`` metric), ``weighted`` (False when built from a mask
    alone: every weight is then 1.0).
    """

    @property
    def name(self) -> str:
        return self.edge_sets[0].name

    @property
    def num_left(self) -> int:
        return self.partitions[0].size

    @property
    def num_right(self) -> int:
        return self.partitions[1].size

    @property
    def weighted(self) -> bool:
        return bool(self.attrs.get("weighted", False))

    def to_scipy(self, weight: str | None = "weight"):
        """The ``(L, R)`` biadjacency as a ``scipy.sparse.csr_array``.

        Args:
            weight: ``"weight"`` (``|w|``), ``"signed_weight"`` (``w``) or None (ones).
        """
        import scipy.sparse as sp

        if weight not in ("weight", "signed_weight", None):
            raise ValueError(f"weight must be 'weight', 'signed_weight' or None, got {weight!r}")
        a = self.arrays
        L, R = self.num_left, self.num_right
        data = np.ones(len(a), dtype=np.float32) if weight is None else getattr(a, weight).astype(np.float32)
        index_dtype = np.int32 if max(L, R, len(a)) < 2**31 else np.int64
        rows = a.src.astype(index_dtype)
        cols = (a.dst - L).astype(index_dtype)
        indptr = np.zeros(L + 1, dtype=index_dtype)
        np.cumsum(np.bincount(rows, minlength=L), out=indptr[1:])
        # canonical order is ascending (src, dst): rows are already CSR-sorted
        return sp.csr_array((data, cols, indptr), shape=(L, R))


def _as_numpy(t: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().numpy()
    return np.asarray(t)


def split_mask_weight(t: torch.Tensor | np.ndarray, weight: torch.Tensor | np.ndarray | None
                      ) -> tuple[np.ndarray, np.ndarray | None]:
    """Interpret ``sg.bipartite``'s inputs as ``(support, weight or None)``.

    A boolean (or 0/1 with ``weight`` given) first argument is a mask; a float first argument without
    ``weight`` is a weight tensor whose nonzero entries are the support.
    """
    arr = _as_numpy(t)
    w = None if weight is None else _as_numpy(weight).astype(np.float32)
    if arr.dtype == np.bool_:
        support = arr
    elif w is not None:
        if not np.isin(arr, (0, 1)).all():
            raise ValueError("with weight= given, the first argument must be a bool or 0/1 mask")
        support = arr.astype(bool)
    else:
        w = arr.astype(np.float32)
        support = w != 0
    if w is not None and w.shape != support.shape:
        raise ValueError(f"mask shape {support.shape} and weight shape {w.shape} differ")
    if support.ndim not in (2, 4):
        raise ValueError(f"expected a 2-D linear or 4-D conv tensor, got {support.ndim} dimensions")
    return support, w


def rolled_graph(support: np.ndarray, weight: np.ndarray | None, name: str = "layer") -> BipartiteGraph:
    """The rolled encoding (graphs.md §2.1): left = (Cin/groups·kh·kw) or in_features, right = Cout.

    Left node ``c·kh·kw + r·kw + s`` is in-group channel c with kernel tap (r, s); one edge per
    supported weight ``W[o, c, r, s]``. This is ``F = reshape(W, (Cout, -1))ᵀ``.
    """
    cout = support.shape[0]
    s2 = support.reshape(cout, -1)
    L, R = s2.shape[1], cout
    rows, cols = np.nonzero(s2.T)  # ascending (row, col) = canonical (src, dst) order
    if weight is not None:
        signed = weight.reshape(cout, -1).T[rows, cols].astype(np.float32)
    else:
        signed = np.ones(rows.shape[0], dtype=np.float32)
    arrays = EdgeArrays(
        src=rows.astype(np.int64),
        dst=(cols + L).astype(np.int64),
        weight=np.abs(signed),
        signed_weight=signed,
        edge_set=np.zeros(rows.shape[0], dtype=np.int32),
    )
    if support.ndim == 4:
        left_shape, left_coords, kind = tuple(support.shape[1:]), "ckk", "conv"
    else:
        left_shape, left_coords, kind = (L,), "f", "linear"
    partitions = [
        Partition(0, f"{name}:in", "left", name, 0, L, left_shape, left_coords),
        Partition(1, f"{name}:out", "right", name, L, R, (R,), "c" if support.ndim == 4 else "f"),
    ]
    edge_sets = [EdgeSet(0, name, kind, (0,), (1,), len(arrays))]
    attrs = {
        "encoding": "rolled",
        "support": "mask",
        "weighted": weight is not None,
        "tensor_nnz": int(support.sum()),
        "tensor_numel": int(support.size),
    }
    return BipartiteGraph(partitions, edge_sets, arrays, attrs)


def bipartite(t: torch.Tensor | np.ndarray, weight: torch.Tensor | np.ndarray | None = None,
              encoding: str = "rolled", *, name: str = "layer") -> BipartiteGraph:
    """Build the bipartite graph of one weight tensor (2-D linear or 4-D conv, PyTorch layout).

    Args:
        t: a bool (or 0/1) mask, or a weight tensor whose nonzero entries are the support.
        weight: the weights of the kept entries when ``t`` is a mask.
        encoding: ``rolled`` (see graphs.md §2).
        name: the layer name (edge-set name and partition prefix).

    Example:
        >>> import torch, sparsegraph as sg
        >>> g = sg.bipartite(torch.ones(3, 2, dtype=torch.bool))
        >>> (g.num_left, g.num_right, g.num_edges)
        (2, 3, 6)
    """
    support, w = split_mask_weight(t, weight)
    if encoding != "rolled":
        raise ValueError(f"unknown encoding {encoding!r}; expected one of: rolled")
    return rolled_graph(support, w, name=name)
