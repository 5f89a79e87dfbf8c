"""Member sets of tensor elements, as CSR maps ``element -> graph nodes`` (graphs.md §2.4).

Every element of every tensor in the traced DAG stands for a set of graph nodes: input elements and
layer outputs stand for themselves, index operations move the sets, padding elements have the empty
set, and pooling windows take the union of their elements' sets. A :class:`MemberMap` stores these
sets for one tensor as a CSR structure (row = element in C order, columns = global node ids, sorted).

Each DAG operation is a sparse 0/1 matrix ``A`` (output element × input element); the output's map is
the boolean product ``A @ M_in``. Index operations have at most one input element per row, pooling
one per window position; the products run in SciPy, with no Python loop over elements.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class MemberMap:
    """The member sets of one tensor's elements.

    Attributes:
        indptr: int64, length ``num_elements + 1``: element e's members are ``indices[indptr[e]:indptr[e+1]]``.
        indices: int64 global node ids, ascending within each element.
    """

    indptr: np.ndarray
    indices: np.ndarray

    @property
    def num_elements(self) -> int:
        return int(self.indptr.size - 1)

    @property
    def lengths(self) -> np.ndarray:
        """Number of members of each element."""
        return np.diff(self.indptr)

    @classmethod
    def identity(cls, offset: int, size: int) -> "MemberMap":
        """Element e stands for node ``offset + e`` (an input or a layer-output partition)."""
        return cls(np.arange(size + 1, dtype=np.int64), np.arange(offset, offset + size, dtype=np.int64))

    def is_monotone(self) -> bool:
        """At most one member per element and members increasing with the element.

        Then an edge list sorted by element is also sorted by member, and no two elements share a
        member (so no duplicate pairs can arise).
        """
        return bool((self.lengths <= 1).all() and (np.diff(self.indices) > 0).all())

    def is_disjoint(self) -> bool:
        """No node is a member of two elements (duplicate pairs are then impossible).

        Increasing members are disjoint at once; otherwise a bincount over the members' range (a sort
        only when that range is much wider than the member list).
        """
        idx = self.indices
        if idx.size < 2 or bool((idx[1:] > idx[:-1]).all()):
            return True
        lo, hi = int(idx.min()), int(idx.max())
        if hi - lo < 4 * idx.size:
            return int(np.bincount(idx - lo).max()) <= 1
        return np.unique(idx).size == idx.size

    def expand(self, elements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each entry of ``elements``, one row per member.

        Returns:
            ``(position, member)``: the index into ``elements`` of each row, and the member node id;
            rows come in the order of ``elements``, members ascending within an element.
        """
        if self.indices.size == self.num_elements and (self.lengths == 1).all():
            # one member per element (layer outputs, the input, index moves): a plain lookup
            return np.arange(elements.size, dtype=np.int64), self.indices[elements]
        counts = self.lengths[elements]
        position = np.repeat(np.arange(elements.size, dtype=np.int64), counts)
        first = np.repeat(self.indptr[elements] - np.cumsum(counts) + counts, counts)
        return position, self.indices[first + np.arange(position.size, dtype=np.int64)]

    def apply(self, op: sp.csr_array) -> "MemberMap":
        """The map of ``op @ self``: each output element gets the union of its input elements' sets."""
        if op.shape[1] != self.num_elements:
            raise ValueError(f"operation expects {op.shape[1]} elements, the tensor has {self.num_elements}")
        mine = sp.csr_array((np.ones(self.indices.size, dtype=np.float32), self.indices, self.indptr),
                            shape=(self.num_elements, int(self.indices.max(initial=-1)) + 1))
        out = sp.csr_array(op @ mine)
        out.sum_duplicates()
        out.sort_indices()
        return MemberMap(out.indptr.astype(np.int64), out.indices.astype(np.int64))

    def gather(self, source: np.ndarray) -> "MemberMap":
        """Output element i takes the set of input element ``source[i]`` (empty where ``source[i] < 0``)."""
        valid = source >= 0
        safe = np.where(valid, source, 0)
        counts = np.where(valid, self.lengths[safe], 0)
        indptr = np.zeros(source.size + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        rows = np.flatnonzero(valid)
        _, members = self.expand(safe[rows])
        return MemberMap(indptr, members)

    @staticmethod
    def concatenate(maps: Sequence["MemberMap"]) -> tuple["MemberMap", np.ndarray]:
        """The maps stacked row-wise, and the element offset of each part."""
        bases = np.cumsum([0] + [m.num_elements for m in maps])
        shifts = np.cumsum([0] + [m.indices.size for m in maps])
        indptr = np.concatenate([np.zeros(1, np.int64)] + [m.indptr[1:] + s for m, s in zip(maps, shifts)])
        return MemberMap(indptr, np.concatenate([m.indices for m in maps])), bases[:-1]


def window_matrix(size: int, out: int, kernel: int, stride: int, padding: int, dilation: int) -> sp.csr_array:
    """``(out, size)`` 0/1 matrix: window ``o`` covers rows ``o·s − p + u·d`` (u < k) inside ``[0, size)``."""
    o = np.repeat(np.arange(out, dtype=np.int64), kernel)
    y = o * stride - padding + np.tile(np.arange(kernel, dtype=np.int64), out) * dilation
    keep = (y >= 0) & (y < size)
    return sp.csr_array((np.ones(int(keep.sum()), np.float32), (o[keep], y[keep])), shape=(out, size))


def adaptive_matrix(size: int, out: int) -> sp.csr_array:
    """``(out, size)`` 0/1 matrix: bin i covers ``[⌊i·size/out⌋, ⌈(i+1)·size/out⌉)``."""
    i = np.arange(out, dtype=np.int64)
    lo = (i * size) // out
    hi = -((-(i + 1) * size) // out)
    counts = hi - lo
    rows = np.repeat(i, counts)
    cols = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()), dtype=np.int64)
    return sp.csr_array((np.ones(rows.size, np.float32), (rows, cols)), shape=(out, size))


def spatial_operator(channels: int, rows: sp.csr_array, cols: sp.csr_array) -> sp.csr_array:
    """The (C·Ho·Wo, C·H·W) operator of a per-channel 2-D window map ``rows ⊗ cols``."""
    per_channel = sp.kron(rows, cols, format="csr")
    return sp.csr_array(sp.kron(sp.identity(channels, dtype=np.float32, format="csr"), per_channel,
                                format="csr"))


def index_source(in_shape: tuple[int, ...], kind: str, params: dict) -> np.ndarray:
    """For an index operation, the input element read by each output element (−1: padding)."""
    n = int(np.prod(in_shape))
    grid = np.arange(n, dtype=np.int64).reshape(in_shape)
    if kind == "reshape":
        perm = params.get("perm")
        return (grid if perm is None else grid.transpose(perm)).ravel()
    if kind == "slice":
        index = [slice(None)] * len(in_shape)
        index[params["sample_dim"]] = slice(params["start"], params["stop"], params["step"])
        return grid[tuple(index)].ravel()
    if kind == "pad":
        padded = F.pad(torch.from_numpy(grid + 1), tuple(params["pad"]), value=0)
        return padded.numpy().ravel() - 1
    raise ValueError(f"not an index operation: {kind!r}")
