"""Two-pass CSR assembly from an edge stream into memory-mapped arrays (graphs.md §6).

Pass 1 counts the out-degree of every row; pass 2 regenerates the edge sets and scatters them into
memory-mapped ``indices``/``data``/``signed``/``edge_set`` arrays (their disk blocks reserved up
front, so a full disk is an ``OSError``); rows are then sorted by (column, set) in chunks. Peak
memory is O(N + largest edge set + chunk).
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass

import numpy as np

from sparsegraph.graphs.convert.common import index_dtype

SORT_CHUNK = 2**22


@dataclass
class StreamedCSR:
    """Entries sorted by (row, column, set); arrays may be memory-mapped."""

    shape: tuple[int, int]
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    signed: np.ndarray
    edge_set: np.ndarray
    multiplicity: np.ndarray | None


def reserve_blocks(path: str | os.PathLike) -> None:
    """Allocate a memory-mapped file's blocks now, so that a full disk fails here with ENOSPC (an
    ``OSError``) instead of killing the process with SIGBUS on a later page write."""
    if not hasattr(os, "posix_fallocate"):
        return
    with open(path, "r+b") as f:
        try:
            os.posix_fallocate(f.fileno(), 0, os.fstat(f.fileno()).st_size)
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):  # no fallocate on this FS
                raise


def _rows_cols(stream, a, biadjacency: bool) -> tuple[np.ndarray, np.ndarray]:
    if biadjacency:
        left = stream.partitions[0].size
        return a.src, a.dst - left
    return a.src, a.dst


def build_csr(stream, workdir: str | os.PathLike, biadjacency: bool = False) -> StreamedCSR:
    """The stream's adjacency (or, with ``biadjacency``, a one-layer graph's L×R biadjacency)."""
    if biadjacency:
        shape = (stream.partitions[0].size, stream.partitions[1].size)
    else:
        shape = (stream.num_nodes, stream.num_nodes)
    nnz = stream.num_edges
    # pass 1: out-degrees
    counts = np.zeros(shape[0], dtype=np.int64)
    for _, a in stream.iter_sets():
        rows, _ = _rows_cols(stream, a, biadjacency)
        counts += np.bincount(rows, minlength=shape[0])
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    idx_dtype = index_dtype(shape[0], shape[1])
    set_dtype = np.int16 if len(stream.edge_sets) < 2**15 else np.int32

    def mapped(name: str, dtype) -> np.ndarray:
        if nnz == 0:
            return np.zeros(0, dtype=dtype)
        path = os.path.join(workdir, f"{name}.npy")
        array = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(nnz,))
        reserve_blocks(path)
        return array

    indices, data, signed = mapped("indices", idx_dtype), mapped("data", np.float32), mapped("signed", np.float32)
    edge_set = mapped("edge_set", set_dtype)
    multiplicity = mapped("multiplicity", np.int32) if stream.has_multiplicity else None
    # pass 2: scatter; inside a set, edges of one row are contiguous (sorted by source)
    cursor = indptr[:-1].copy()
    for _, a in stream.iter_sets():
        rows, cols = _rows_cols(stream, a, biadjacency)
        if rows.size == 0:
            continue
        order = np.argsort(rows, kind="stable")
        rows_sorted = rows[order]
        run_start = np.r_[0, np.flatnonzero(rows_sorted[1:] != rows_sorted[:-1]) + 1]
        run_len = np.diff(np.r_[run_start, rows_sorted.size])
        rank = np.arange(rows_sorted.size) - np.repeat(run_start, run_len)
        pos = cursor[rows_sorted] + rank
        indices[pos] = cols[order]
        data[pos] = a.weight[order]
        signed[pos] = a.signed_weight[order]
        edge_set[pos] = a.edge_set[order]
        if multiplicity is not None:
            multiplicity[pos] = a.multiplicity[order]
        cursor[rows_sorted[run_start]] += run_len
    # sort every row by (column, set), a chunk of rows at a time
    row_lo = 0
    while row_lo < shape[0]:
        row_hi = max(row_lo + 1, int(np.searchsorted(indptr, indptr[row_lo] + SORT_CHUNK, side="right")) - 1)
        row_hi = min(row_hi, shape[0])
        lo, hi = int(indptr[row_lo]), int(indptr[row_hi])
        if hi > lo:
            rows = np.repeat(np.arange(row_lo, row_hi), counts[row_lo:row_hi])
            order = np.lexsort((edge_set[lo:hi], indices[lo:hi], rows))
            for column in (indices, data, signed, edge_set) + ((multiplicity,) if multiplicity is not None else ()):
                column[lo:hi] = column[lo:hi][order]
        row_lo = row_hi
    return StreamedCSR(shape, indptr, indices, data, signed, edge_set, multiplicity)
