"""Edge lists: ``.tsv`` / ``.tsv.gz`` with a ``.meta.json`` sidecar (graphs.md §5).

The first line is ``source\\ttarget\\tweight\\tlayer`` (``\\tsigned_weight`` appended with
``signed=True``); then one line per edge in canonical order: decimal global ids, the shortest decimal
that round-trips each float32 weight, and the edge-set name.
"""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np

from sparsegraph.errors import GraphFileError
from sparsegraph.graphs.io.checksum import ContentHash, HashingWriter, check
from sparsegraph.graphs.io.sidecar import digest, read_sidecar, sidecar_path, sidecar_payload, write_sidecar
from sparsegraph.graphs.io.text import chunks, float32_strings, open_text
from sparsegraph.graphs.rebuild import edge_arrays, rebuild, tables
from sparsegraph.utils.atomic import atomic_paths

HEADER = ("source", "target", "weight", "layer")


def _write_lines(out, stream, signed: bool) -> None:
    out.write("\t".join(HEADER + (("signed_weight",) if signed else ())) + "\n")
    for edge_set, a in stream.iter_sets():
        if "\t" in edge_set.name or "\n" in edge_set.name or "\r" in edge_set.name:
            raise ValueError(f"edge-set name {edge_set.name!r} contains a tab or newline; "
                             "it cannot be written to an edge list")
        for lo, hi in chunks(len(a)):
            columns = [a.src[lo:hi].astype(str).tolist(), a.dst[lo:hi].astype(str).tolist(),
                       float32_strings(a.weight[lo:hi]).tolist(), [edge_set.name] * (hi - lo)]
            if signed:
                columns.append(float32_strings(a.signed_weight[lo:hi]).tolist())
            out.write("\n".join(map("\t".join, zip(*columns))) + "\n")


def write(stream, path: str | os.PathLike, signed: bool = False, needed_bytes: int | None = None) -> None:
    """Write an edge list (``path = "-"``: stdout, without the sidecar).

    The file and its sidecar are replaced together, only once both are complete; the sidecar's
    ``checksum`` covers the file's text and the sidecar itself.
    """
    if os.fspath(path) == "-":
        warnings.warn("writing the edge list to stdout: no .meta.json sidecar (node attributes) is written",
                      stacklevel=2)
        _write_lines(sys.stdout, stream, signed)
        return
    payload = sidecar_payload(stream.graph_attributes(), "adjacency", 0)
    text_digest = ContentHash()
    with atomic_paths(path, sidecar_path(path), needed_bytes=needed_bytes) as (tmp, side_tmp):
        with open_text(tmp, "w", compressed=os.fspath(path).endswith(".gz")) as out:
            _write_lines(HashingWriter(out, text_digest), stream, signed)
        write_sidecar(side_tmp, payload, digest(text_digest, payload))


def read(path: str | os.PathLike, verify: bool = True):
    side = read_sidecar(path)
    meta = side.meta
    with open_text(path, "r") as f:
        header = f.readline()
        body = f.read()
    text_digest = ContentHash()
    text_digest.text(header)
    text_digest.text(body)
    check(path, side.checksum, digest(text_digest, side.payload), verify)
    header = header.rstrip("\n").split("\t")
    if tuple(header[:4]) != HEADER or header[4:] not in ([], ["signed_weight"]):
        raise GraphFileError(f"{path}: the first line must be source, target, weight, layer "
                             "(and optionally signed_weight), tab-separated")
    ncol = len(header)
    lines = body.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    fields = np.array("\t".join(lines).split("\t") if lines else [], dtype=str)
    if fields.size % ncol:
        raise GraphFileError(f"{path}: every line must have {ncol} tab-separated fields")
    fields = fields.reshape(-1, ncol)
    _, edge_sets = tables(meta)
    set_index = {s.name: s.index for s in edge_sets}
    names, inverse = np.unique(fields[:, 3], return_inverse=True)
    unknown = [n for n in names.tolist() if n not in set_index]
    if unknown:
        raise GraphFileError(f"{path}: edge layer {unknown[0]!r} is not in the sidecar's edge-set table")
    sets = np.array([set_index[n] for n in names.tolist()], dtype=np.int32)[inverse.ravel()]
    weight = fields[:, 2].astype(np.float32)
    signed = fields[:, 4].astype(np.float32) if ncol == 5 else weight.copy()
    arrays = edge_arrays(fields[:, 0].astype(np.int64), fields[:, 1].astype(np.int64), weight, signed, sets)
    return rebuild(meta, arrays)
