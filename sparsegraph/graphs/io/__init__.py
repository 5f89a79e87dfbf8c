"""Graph files for external tools (graphs.md §5): writers, readers and the format registry.

Formats: ``pyg`` (.pt), ``graphml`` (.graphml), ``edgelist`` (.tsv, .tsv.gz), ``npz`` (.npz) and
``mtx`` (.mtx). edgelist and mtx come with a ``<path>.meta.json`` sidecar.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sparsegraph.errors import GraphFileError, UsageError

FORMATS = ("pyg", "graphml", "edgelist", "npz", "mtx")
_SUFFIXES = {".pt": "pyg", ".graphml": "graphml", ".tsv": "edgelist", ".tsv.gz": "edgelist", ".npz": "npz",
             ".mtx": "mtx"}


def resolve_format(path: str | os.PathLike, format: str | None) -> str:
    """``format`` if given (checked), else the one the file suffix names."""
    if format is not None:
        if format not in FORMATS:
            raise UsageError(f"unknown graph format {format!r}; expected one of: " + ", ".join(FORMATS))
        return format
    name = Path(path).name.lower()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return _SUFFIXES[suffix]
    raise UsageError(f"cannot tell the graph format of {str(path)!r} from its suffix; pass format= "
                     "(one of: " + ", ".join(FORMATS) + ")")


def _module(fmt: str):
    from sparsegraph.graphs.io import edgelist, graphml, mtx, npz, pt

    return {"pyg": pt, "graphml": graphml, "edgelist": edgelist, "npz": npz, "mtx": mtx}[fmt]


def write_stream(stream, path: str | os.PathLike, fmt: str, **options: Any) -> None:
    """Write an :class:`~sparsegraph.graphs.stream.EdgeStream` (not for ``pyg``)."""
    if fmt == "pyg":
        raise UsageError("format 'pyg' needs an in-memory graph: use graph.save()")
    _module(fmt).write(stream, path, **options)


def save_graph(graph, path: str | os.PathLike, format: str | None = None, **options: Any) -> None:
    """Write an in-memory graph; ``format`` defaults to the suffix's."""
    from sparsegraph.graphs.stream import EdgeStream

    fmt = resolve_format(path, format)
    if fmt == "pyg":
        _module(fmt).write_graph(graph, path, **options)
    else:
        write_stream(EdgeStream.from_graph(graph), path, fmt, **options)


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
        return _module(fmt).read(path)
    except GraphFileError:
        raise
    except Exception as exc:  # any parse failure of an untrusted file is reported as one line
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise GraphFileError(f"{path}: not a valid {fmt} graph file ({detail})") from None
