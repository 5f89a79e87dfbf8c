"""Graph files for external tools (graphs.md §5): the readers and writers of the formats registered in
:mod:`sparsegraph.graphs.formats`, and :func:`load_graph`.

Formats: ``pyg`` (.pt), ``graphml`` (.graphml), ``edgelist`` (.tsv, .tsv.gz), ``npz`` (.npz) and
``mtx`` (.mtx). edgelist and mtx come with a ``<path>.meta.json`` sidecar.
"""

from __future__ import annotations

import os
from pathlib import Path

from sparsegraph.errors import GraphFileError
from sparsegraph.graphs.formats import GRAPH_FORMATS, formats, resolve_format, save_graph, write_stream

__all__ = ["FORMATS", "load_graph", "resolve_format", "save_graph", "stored_checksum", "write_stream"]

FORMATS = formats()


def load_graph(path: str | os.PathLike, format: str | None = None, *, verify: bool = True):
    """Read a graph written by :meth:`Graph.save` or :func:`sparsegraph.export`.

    Every array and table is checked against the metadata (sizes, monotone ``indptr``, index ranges,
    partition sizes, per-set edge counts) before the graph is built. With ``verify`` (default), the
    content checksum that sparsegraph stores in every file it writes is recomputed and compared;
    files without one (older versions, other tools) are read unchecked.

    Returns:
        a :class:`BipartiteGraph` for one layer, a :class:`LayerGraphs` for the union of layer graphs,
        else the graph class registered for its encoding (:class:`Graph` by default).

    Raises:
        GraphFileError: missing, corrupt, inconsistent or unknown file, or a checksum mismatch (one line
            naming it).
    """
    try:
        fmt = resolve_format(path, format)
    except ValueError as exc:
        raise GraphFileError(str(exc)) from None
    if not Path(path).is_file():
        raise GraphFileError(f"{path}: no such graph file")
    try:
        return GRAPH_FORMATS.get(fmt).read(path, verify=verify)
    except GraphFileError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise GraphFileError(f"{path}: {exc}") from None
    except Exception as exc:  # any parse failure of an untrusted file is reported as one line
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise GraphFileError(f"{path}: not a valid {fmt} graph file ({detail})") from None


def stored_checksum(path: str | os.PathLike, format: str | None = None) -> str | None:
    """The checksum stored in a graph file's metadata, or None for a file without one.

    Raises:
        GraphFileError: the file or its metadata cannot be read.
    """
    import json

    from sparsegraph.graphs.io.checksum import KEY

    fmt = resolve_format(path, format)
    try:
        if fmt == "npz":
            import numpy as np

            with np.load(path, allow_pickle=False) as z:
                return json.loads(str(z["meta"])).get(KEY)
        if fmt in ("edgelist", "mtx"):
            from sparsegraph.graphs.io.sidecar import read_sidecar

            return read_sidecar(path).checksum
        if fmt == "graphml":
            from sparsegraph.graphs.io.graphml import CHECKSUM_TAIL

            with open(path, "rb") as f:  # the checksum is the last graph <data> element
                f.seek(max(0, os.path.getsize(path) - 4096))
                tail = CHECKSUM_TAIL.search(f.read().decode("utf-8", errors="replace"))
            return tail.group(1) if tail else None
        import torch

        payload = torch.load(path, weights_only=True, map_location="cpu")
        return payload.get(KEY) if isinstance(payload, dict) else None
    except GraphFileError:
        raise
    except Exception as exc:
        raise GraphFileError(f"{path}: unreadable metadata ({' '.join(str(exc).split())})") from None
