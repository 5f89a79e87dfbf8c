"""Where a graph can go: in-memory targets (converters) and graph file formats (graphs.md §4–5), as
:class:`~sparsegraph.registry.Registry` entries.

Entries are lazy (``"package.module"``), so :class:`~sparsegraph.graphs.base.Graph` can offer ``to_scipy``,
``to_pyg`` ... and ``save`` without importing the converters and writers, which import the graph classes.

A file format is a module with ``read(path)`` and either ``write(stream, path, **options)`` (it writes an
:class:`~sparsegraph.graphs.stream.EdgeStream`, one edge set at a time: ``streams=True``) or
``write_graph(graph, path, **options)`` (in-memory only). A converter target is a module whose functions
take the graph as first argument.

Example:
    >>> from sparsegraph.graphs.formats import GRAPH_FORMATS, resolve_format
    >>> resolve_format("model.tsv.gz", None), GRAPH_FORMATS.info("npz")["suffixes"]
    ('edgelist', ('.npz',))
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from sparsegraph.errors import UsageError
from sparsegraph.graphs.estimate import estimate_file_bytes
from sparsegraph.registry import Registry
from sparsegraph.utils.atomic import prepare_output
from sparsegraph.utils.sizes import format_bytes

#: In-memory targets of a graph: name -> converter module.
CONVERTERS: Registry[Any] = Registry("graph target")
CONVERTERS.register_lazy("scipy", "sparsegraph.graphs.convert.scipy")
CONVERTERS.register_lazy("pyg", "sparsegraph.graphs.convert.pyg")
CONVERTERS.register_lazy("igraph", "sparsegraph.graphs.convert.igraph")
CONVERTERS.register_lazy("networkx", "sparsegraph.graphs.convert.networkx")
CONVERTERS.register_lazy("stream", "sparsegraph.graphs.stream")

#: Graph file formats: name -> reader/writer module, with its suffixes and whether it streams.
GRAPH_FORMATS: Registry[Any] = Registry("graph format")
GRAPH_FORMATS.register_lazy("pyg", "sparsegraph.graphs.io.pt", suffixes=(".pt",), streams=False)
GRAPH_FORMATS.register_lazy("graphml", "sparsegraph.graphs.io.graphml", suffixes=(".graphml",), streams=True)
GRAPH_FORMATS.register_lazy("edgelist", "sparsegraph.graphs.io.edgelist", suffixes=(".tsv", ".tsv.gz"),
                            streams=True)
GRAPH_FORMATS.register_lazy("npz", "sparsegraph.graphs.io.npz", suffixes=(".npz",), streams=True)
GRAPH_FORMATS.register_lazy("mtx", "sparsegraph.graphs.io.mtx", suffixes=(".mtx",), streams=True)


def formats() -> tuple[str, ...]:
    """The registered format names."""
    return tuple(GRAPH_FORMATS.names())


def resolve_format(path: str | os.PathLike, format: str | None) -> str:
    """``format`` if given (checked), else the one the file suffix names."""
    if format is not None:
        if format not in GRAPH_FORMATS:
            raise UsageError(f"unknown graph format {format!r}; expected one of: " + ", ".join(formats()))
        return format
    name = Path(path).name.lower()
    suffixes = {suffix: fmt for fmt in formats() for suffix in GRAPH_FORMATS.info(fmt)["suffixes"]}
    for suffix in sorted(suffixes, key=len, reverse=True):
        if name.endswith(suffix):
            return suffixes[suffix]
    raise UsageError(f"cannot tell the graph format of {str(path)!r} from its suffix; pass format= "
                     "(one of: " + ", ".join(formats()) + ")")


def _announce(graph, path: str | os.PathLike, fmt: str, notify: Callable[[str], None] | None,
              options: dict[str, Any]) -> int | None:
    """The free space the write needs (None for stdout), told to ``notify`` in one line first."""
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
    """Write an :class:`~sparsegraph.graphs.stream.EdgeStream` (not for in-memory formats such as ``pyg``).

    The file size is estimated first (told to ``notify``) and checked against the free space.

    Raises:
        OutputError: the output cannot be written, or needs more space than is free.
    """
    if not GRAPH_FORMATS.info(fmt)["streams"]:
        raise UsageError(f"format {fmt!r} needs an in-memory graph: use graph.save()")
    needed = _announce(stream, path, fmt, notify, options)
    GRAPH_FORMATS.get(fmt).write(stream, path, needed_bytes=needed, **options)


def save_graph(graph, path: str | os.PathLike, format: str | None = None,
               notify: Callable[[str], None] | None = None, **options: Any) -> None:
    """Write an in-memory graph; ``format`` defaults to the suffix's (see :func:`write_stream`)."""
    fmt = resolve_format(path, format)
    if GRAPH_FORMATS.info(fmt)["streams"]:
        write_stream(CONVERTERS.get("stream").EdgeStream.from_graph(graph), path, fmt, notify, **options)
    else:
        needed = _announce(graph, path, fmt, notify, options)
        GRAPH_FORMATS.get(fmt).write_graph(graph, path, needed_bytes=needed, **options)
