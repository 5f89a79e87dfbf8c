"""Graph files for external tools (graphs.md §5): writers, readers and the format registry.

Formats: ``pyg`` (.pt), ``graphml`` (.graphml), ``edgelist`` (.tsv, .tsv.gz), ``npz`` (.npz) and
``mtx`` (.mtx). edgelist and mtx come with a ``<path>.meta.json`` sidecar.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

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


def _announce(graph, path: str | os.PathLike, fmt: str, notify: Callable[[str], None] | None,
              options: dict[str, Any]) -> int | None:
    """The free space the write needs (None for stdout), told to ``notify`` in one line first."""
    from sparsegraph.graphs.estimate import estimate_file_bytes
    from sparsegraph.utils.atomic import prepare_output
    from sparsegraph.utils.sizes import format_bytes

    if os.fspath(path) == "-":
        return None
    prepare_output(path)  # a path that can never be written fails before the estimate is told
    estimate = estimate_file_bytes(graph, fmt, path, **options)
    if notify is not None:
        scratch = f" (+{format_bytes(estimate.scratch_bytes)} of scratch files while writing)" \
            if estimate.scratch_bytes else ""
        notify(f"writing {path}: about {format_bytes(estimate.file_bytes)}{scratch}")
    return estimate.needed_bytes


def write_stream(stream, path: str | os.PathLike, fmt: str, notify: Callable[[str], None] | None = None,
                 **options: Any) -> None:
    """Write an :class:`~sparsegraph.graphs.stream.EdgeStream` (not for ``pyg``).

    The file size is estimated first (told to ``notify``) and checked against the free space.

    Raises:
        OutputError: the output cannot be written, or needs more space than is free.
    """
    if fmt == "pyg":
        raise UsageError("format 'pyg' needs an in-memory graph: use graph.save()")
    needed = _announce(stream, path, fmt, notify, options)
    _module(fmt).write(stream, path, needed_bytes=needed, **options)


def save_graph(graph, path: str | os.PathLike, format: str | None = None,
               notify: Callable[[str], None] | None = None, **options: Any) -> None:
    """Write an in-memory graph; ``format`` defaults to the suffix's (see :func:`write_stream`)."""
    from sparsegraph.graphs.stream import EdgeStream

    fmt = resolve_format(path, format)
    if fmt == "pyg":
        needed = _announce(graph, path, fmt, notify, options)
        _module(fmt).write_graph(graph, path, needed_bytes=needed, **options)
    else:
        write_stream(EdgeStream.from_graph(graph), path, fmt, notify, **options)


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
        return _module(fmt).read(path, verify=verify)
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
