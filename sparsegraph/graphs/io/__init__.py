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

__all__ = ["FORMATS", "load_graph", "resolve_format", "save_graph", "write_stream"]

FORMATS = formats()


def load_graph(path: str | os.PathLike, format: str | None = None):
    """Read a graph written by :meth:`Graph.save` or :func:`sparsegraph.export`.

    Returns:
        a :class:`BipartiteGraph` for one layer, a :class:`LayerGraphs` for the union of layer graphs,
        else the graph class registered for its encoding (:class:`Graph` by default).

    Raises:
        GraphFileError: missing, corrupt or unknown file (one line naming it).
    """
    try:
        fmt = resolve_format(path, format)
    except ValueError as exc:
        raise GraphFileError(str(exc)) from None
    if not Path(path).is_file():
        raise GraphFileError(f"{path}: no such graph file")
    try:
        return GRAPH_FORMATS.get(fmt).read(path)
    except GraphFileError:
        raise
    except Exception as exc:  # any parse failure of an untrusted file is reported as one line
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise GraphFileError(f"{path}: not a valid {fmt} graph file ({detail})") from None
