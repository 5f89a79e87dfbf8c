"""``.npz``: the CSR adjacency with weights, signed weights, edge sets and the partition table (graphs.md §5).

Entries (``numpy.load(path, allow_pickle=False)``): ``format``, ``shape`` (N, N), ``indptr`` int64,
``indices`` int32 (int64 from 2³¹), ``data`` and ``signed_data`` float32, ``edge_set`` int16/int32,
``edge_set_names``, ``offsets`` int64 [P+1], ``partition_names``, ``partition_shapes`` int64 [P,3]
(padded with 1s), ``partition_ndim`` and ``meta`` (JSON of the graph attributes and the ``checksum``);
``multiplicity`` only after merges. Entries are sorted by (row, column, set).

:func:`read` checks every array against the metadata before building anything (see
docs/formats.md, "Validation and checksums").
"""

from __future__ import annotations

import json
import os
from typing import Any, Mapping

import numpy as np

from sparsegraph.errors import GraphFileError
from sparsegraph.graphs.io.checksum import KEY, ContentHash, check
from sparsegraph.graphs.io.csr import build_csr
from sparsegraph.graphs.rebuild import canonical_sets, edge_arrays, rebuild, tables
from sparsegraph.utils.atomic import atomic_path, atomic_workdir

FORMAT = "sparsegraph.npz/1"
REQUIRED = ("format", "shape", "indptr", "indices", "data", "signed_data", "edge_set", "edge_set_names", "offsets",
            "partition_names", "partition_shapes", "partition_ndim", "meta")


def _digest(arrays: Mapping[str, np.ndarray], meta: dict[str, Any]) -> str:
    """SHA-256 over every entry but ``meta`` (name order), then the metadata without its checksum."""
    digest = ContentHash()
    for name in sorted(arrays):
        if name != "meta":
            digest.array(name, arrays[name])
    digest.json({k: v for k, v in meta.items() if k != KEY})
    return digest.hexdigest()


def write(stream, path: str | os.PathLike, compressed: bool = False, needed_bytes: int | None = None) -> None:
    """Write the adjacency (always N×N, also for one layer) with ``numpy.savez``."""
    with atomic_workdir(path) as work:
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
        }
        if csr.multiplicity is not None:
            arrays["multiplicity"] = csr.multiplicity
        meta = stream.graph_attributes()
        meta[KEY] = _digest(arrays, meta)
        arrays["meta"] = np.array(json.dumps(meta))
        with atomic_path(path, needed_bytes=needed_bytes) as tmp:
            with open(tmp, "wb") as f:
                (np.savez_compressed if compressed else np.savez)(f, **arrays)


def read(path: str | os.PathLike, verify: bool = True):
    with np.load(path, allow_pickle=False) as z:
        if "format" not in z.files or str(z["format"]) != FORMAT:
            raise GraphFileError(f"{path}: not a sparsegraph npz graph (format must be {FORMAT!r})")
        missing = [name for name in REQUIRED if name not in z.files]
        if missing:
            raise GraphFileError(f"{path}: missing array(s) {', '.join(missing)}")
        arrays = {name: z[name] for name in z.files}
    meta = json.loads(str(arrays["meta"]))
    if not isinstance(meta, dict):
        raise GraphFileError(f"{path}: the meta entry is not a JSON object")
    _validate(path, arrays, meta)
    check(path, meta.pop(KEY, None), _digest(arrays, meta), verify)
    n = int(arrays["shape"][0])
    indptr = arrays["indptr"].astype(np.int64)
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    mult = arrays.get("multiplicity")
    columns = edge_arrays(rows, arrays["indices"], arrays["data"], arrays["signed_data"], arrays["edge_set"], mult)
    return rebuild(meta, canonical_sets(columns))


def _validate(path, arrays: Mapping[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Every array against the metadata, before anything of the declared sizes is allocated."""
    def fail(message: str):
        raise GraphFileError(f"{path}: {message}")

    partitions, edge_sets = tables(meta)
    n = partitions[-1].offset + partitions[-1].size if partitions else 0
    shape = arrays["shape"]
    if shape.shape != (2,) or shape.dtype.kind not in "iu" or tuple(int(v) for v in shape) != (n, n):
        fail(f"shape {shape.tolist()} does not match the {n} nodes of the partition table")
    offsets = arrays["offsets"]
    expected = [p.offset for p in partitions] + [n]
    if offsets.shape != (len(partitions) + 1,) or offsets.tolist() != expected:
        fail("offsets do not match the partition table")
    names = arrays["partition_names"]
    if names.shape != (len(partitions),) or names.tolist() != [p.name for p in partitions]:
        fail("partition_names do not match the partition table")
    ndim, shapes = arrays["partition_ndim"], arrays["partition_shapes"]
    if ndim.shape != (len(partitions),) or shapes.shape != (len(partitions), 3) \
            or any(list(shapes[i, :len(p.shape)]) != list(p.shape) or int(ndim[i]) != len(p.shape)
                   for i, p in enumerate(partitions)):
        fail("partition_shapes / partition_ndim do not match the partition table")
    if arrays["edge_set_names"].shape != (len(edge_sets),) \
            or arrays["edge_set_names"].tolist() != [s.name for s in edge_sets]:
        fail("edge_set_names do not match the edge-set table")
    indptr = arrays["indptr"]
    if indptr.ndim != 1 or indptr.dtype.kind not in "iu" or indptr.size != n + 1:
        fail(f"indptr must be {n + 1} integers (one per row, plus one), it has shape {indptr.shape}")
    nnz = sum(s.num_edges for s in edge_sets)
    if int(indptr[0]) != 0 or int(indptr[-1]) != nnz or (np.diff(indptr) < 0).any():
        fail(f"indptr must rise monotonically from 0 to the {nnz} edges of the edge-set table")
    columns = ["indices", "data", "signed_data", "edge_set"] + (["multiplicity"] if "multiplicity" in arrays else [])
    for name in columns:
        if arrays[name].shape != (nnz,):
            fail(f"{name} has shape {arrays[name].shape}, the edge-set table says {nnz} edges")
    for name, kinds in (("indices", "iu"), ("edge_set", "iu"), ("data", "f"), ("signed_data", "f"),
                        ("multiplicity", "iu")):
        if name in arrays and arrays[name].dtype.kind not in kinds:
            fail(f"{name} has dtype {arrays[name].dtype}")
    if nnz and (int(arrays["indices"].min()) < 0 or int(arrays["indices"].max()) >= n):
        fail(f"column indices outside the {n} nodes")
    sets = arrays["edge_set"]
    if nnz and (int(sets.min()) < 0 or int(sets.max()) >= len(edge_sets)):
        fail(f"edge-set ids outside the {len(edge_sets)} sets of the table")
