"""``.npz``: the CSR adjacency with weights, signed weights, edge sets and the partition table (graphs.md §5).

Entries (``numpy.load(path, allow_pickle=False)``): ``format``, ``shape`` (N, N), ``indptr`` int64,
``indices`` int32 (int64 from 2³¹), ``data`` and ``signed_data`` float32, ``edge_set`` int16/int32,
``edge_set_names``, ``offsets`` int64 [P+1], ``partition_names``, ``partition_shapes`` int64 [P,3]
(padded with 1s), ``partition_ndim`` and ``meta`` (JSON of the graph attributes); ``multiplicity``
only after merges. Entries are sorted by (row, column, set).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from sparsegraph.errors import GraphFileError
from sparsegraph.graphs.io.csr import build_csr
from sparsegraph.graphs.rebuild import canonical_sets, edge_arrays, rebuild
from sparsegraph.utils.atomic import atomic_path

FORMAT = "sparsegraph.npz/1"


def write(stream, path: str | os.PathLike, compressed: bool = False) -> None:
    """Write the adjacency (always N×N, also for one layer) with ``numpy.savez``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as work:
        csr = build_csr(stream, work)
        shapes = np.ones((len(stream.partitions), 3), dtype=np.int64)
        for i, p in enumerate(stream.partitions):
            shapes[i, :len(p.shape)] = p.shape
        arrays = {
            "format": np.array(FORMAT),
            "shape": np.array(csr.shape, dtype=np.int64),
            "indptr": csr.indptr,
            "indices": csr.indices,
            "data": csr.data,
            "signed_data": csr.signed,
            "edge_set": csr.edge_set,
            "edge_set_names": np.array([s.name for s in stream.edge_sets], dtype=str),
            "offsets": stream.offsets,
            "partition_names": np.array([p.name for p in stream.partitions], dtype=str),
            "partition_shapes": shapes,
            "partition_ndim": np.array([len(p.shape) for p in stream.partitions], dtype=np.int64),
            "meta": np.array(json.dumps(stream.graph_attributes())),
        }
        if csr.multiplicity is not None:
            arrays["multiplicity"] = csr.multiplicity
        with atomic_path(target) as tmp:
            with open(tmp, "wb") as f:
                (np.savez_compressed if compressed else np.savez)(f, **arrays)


def read(path: str | os.PathLike):
    with np.load(path, allow_pickle=False) as z:
        if "format" not in z.files or str(z["format"]) != FORMAT:
            raise GraphFileError(f"{path}: not a sparsegraph npz graph (format must be {FORMAT!r})")
        meta = json.loads(str(z["meta"]))
        indptr = z["indptr"].astype(np.int64)
        n = int(z["shape"][0])
        if indptr.size != n + 1:
            raise GraphFileError(f"{path}: indptr has {indptr.size} entries for {n} rows")
        rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
        mult = z["multiplicity"] if "multiplicity" in z.files else None
        arrays = edge_arrays(rows, z["indices"], z["data"], z["signed_data"], z["edge_set"], mult)
    return rebuild(meta, canonical_sets(arrays))
