"""MatrixMarket ``.mtx`` with a ``.meta.json`` sidecar (graphs.md §5).

``%%MatrixMarket matrix coordinate real general``, one comment line ``% sparsegraph <JSON>`` (the graph
attributes without the tables), ``rows cols nnz``, then 1-based ``i j weight`` lines in CSR order. The
matrix is N×N, or the L×R biadjacency for one layer. Entries of different edge sets on one pair are
summed. The edge set (``layer``) is recovered from the sidecar's (source partition, destination
partition) -> set map; ``signed_weight`` is not stored and reads back as ``weight``.
"""

from __future__ import annotations

import io
import json
import os

import numpy as np

from sparsegraph.errors import GraphFileError
from sparsegraph.graphs.base import EdgeSet, node_partition
from sparsegraph.graphs.io.checksum import ContentHash, HashingWriter, check
from sparsegraph.graphs.io.csr import SORT_CHUNK, build_csr
from sparsegraph.graphs.io.sidecar import digest, read_sidecar, sidecar_path, sidecar_payload, write_sidecar
from sparsegraph.graphs.io.text import chunks, float32_strings, open_text, split_fields
from sparsegraph.graphs.rebuild import canonical_sets, edge_arrays, rebuild, tables
from sparsegraph.utils.atomic import atomic_paths, atomic_workdir

BANNER = "%%MatrixMarket matrix coordinate real general"
TABLE_KEYS = ("partitions", "edge_sets")


def _summed_chunks(csr):
    """``(rows, cols, values)`` per chunk of entries, duplicates (same row and column) summed."""
    n_rows = csr.shape[0]
    counts = np.diff(csr.indptr)
    row_lo = 0
    while row_lo < n_rows:
        row_hi = min(n_rows, max(row_lo + 1,
                                 int(np.searchsorted(csr.indptr, csr.indptr[row_lo] + SORT_CHUNK, "right")) - 1))
        lo, hi = int(csr.indptr[row_lo]), int(csr.indptr[row_hi])
        if hi > lo:
            rows = np.repeat(np.arange(row_lo, row_hi, dtype=np.int64), counts[row_lo:row_hi])
            cols = np.asarray(csr.indices[lo:hi], dtype=np.int64)
            vals = np.asarray(csr.data[lo:hi])
            new = np.r_[True, (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])]
            starts = np.flatnonzero(new)
            yield rows[starts], cols[starts], np.add.reduceat(vals, starts).astype(np.float32)
        row_lo = row_hi


def write(stream, path: str | os.PathLike, needed_bytes: int | None = None) -> None:
    """Write the matrix and its sidecar, replaced together once both are complete."""
    attributes = stream.graph_attributes()
    comment = json.dumps({k: v for k, v in attributes.items() if k not in TABLE_KEYS})
    payload = sidecar_payload(attributes, "biadjacency" if stream.biadjacency else "adjacency", 1)
    text_digest = ContentHash()
    with atomic_workdir(path) as work:
        csr = build_csr(stream, work, biadjacency=stream.biadjacency)
        nnz = sum(r.size for r, _, _ in _summed_chunks(csr))
        with atomic_paths(path, sidecar_path(path), needed_bytes=needed_bytes) as (tmp, side_tmp):
            with open_text(tmp, "w", compressed=False) as raw:
                out = HashingWriter(raw, text_digest)
                out.write(f"{BANNER}\n% sparsegraph {comment}\n{csr.shape[0]} {csr.shape[1]} {nnz}\n")
                for rows, cols, vals in _summed_chunks(csr):
                    for lo, hi in chunks(rows.size):
                        lines = zip((rows[lo:hi] + 1).astype(str).tolist(), (cols[lo:hi] + 1).astype(str).tolist(),
                                    float32_strings(vals[lo:hi]).tolist())
                        out.write("\n".join(map(" ".join, lines)) + "\n")
            write_sidecar(side_tmp, payload, digest(text_digest, payload))


def read(path: str | os.PathLike, verify: bool = True):
    side = read_sidecar(path)
    meta, matrix = side.meta, side.matrix
    with open_text(path, "r") as f:
        text = f.read()
    text_digest = ContentHash()
    text_digest.text(text)
    check(path, side.checksum, digest(text_digest, side.payload), verify)
    with io.StringIO(text) as f:
        banner = f.readline().strip()
        if banner.lower() != BANNER.lower():
            raise GraphFileError(f"{path}: not a MatrixMarket coordinate real general file")
        line = f.readline()
        while line.startswith("%"):
            line = f.readline()
        header = line.split()
        body = f.read()
    if len(header) != 3:
        raise GraphFileError(f"{path}: missing 'rows cols nnz' line")
    n_rows, n_cols, nnz = (int(v) for v in header)
    fields = split_fields(body, 3, str(path))
    if fields.shape[0] != nnz:
        raise GraphFileError(f"{path}: header announces {nnz} entries, the file has {fields.shape[0]}")
    partitions, edge_sets = tables(meta)
    src = fields[:, 0].astype(np.int64) - 1
    dst = fields[:, 1].astype(np.int64) - 1
    if matrix == "biadjacency":
        dst = dst + partitions[0].size
    weight = fields[:, 2].astype(np.float32)
    # the layer of each entry: the first set joining its (source partition, destination partition)
    P = len(partitions)
    pair_to_set = np.full(P * P, -1, dtype=np.int64)
    for s in reversed(edge_sets):
        for a in s.src_partitions:
            for b in s.dst_partitions:
                pair_to_set[a * P + b] = s.index
    sets = pair_to_set[node_partition(partitions, src) * P + node_partition(partitions, dst)]
    if (sets < 0).any():
        raise GraphFileError(f"{path}: an entry joins two partitions that no edge set of the sidecar joins")
    counts = np.bincount(sets, minlength=len(edge_sets))
    meta["edge_sets"] = [EdgeSet(s.index, s.name, s.kind, s.src_partitions, s.dst_partitions,
                                 int(counts[s.index])).to_dict() for s in edge_sets]
    arrays = edge_arrays(src, dst, weight, weight.copy(), sets)
    return rebuild(meta, canonical_sets(arrays))
