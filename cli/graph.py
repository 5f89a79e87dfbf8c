"""``sparsegraph graph``: what a graph file holds, after checking its structure and checksum."""

from __future__ import annotations

from typing import Any

import click

from sparsegraph_cli.options import format_option
from sparsegraph_cli.output import emit, render_json

FORMATS = ("pyg", "graphml", "edgelist", "npz", "mtx")


@click.command()
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False))
@click.option("--graph-format", "graph_format", default=None, metavar="{" + ",".join(FORMATS) + "}",
              help="The file's format (default: from its suffix).")
@click.option("--no-verify", is_flag=True,
              help="Do not compare the stored content checksum (the structural checks still run).")
@format_option(("table", "json"), "table")
def graph(path: str, graph_format: str | None, no_verify: bool, fmt: str) -> None:
    """Read the graph file FILE (as written by export or Graph.save) and summarise it.

    Every array and table is checked against the metadata, and the content checksum stored in
    every file sparsegraph writes is compared (files without one are read unchecked). A missing,
    corrupt or edited file exits with code 3 and a one-line message naming it.
    """
    from sparsegraph.graphs import LayerGraphs
    from sparsegraph.graphs.io import load_graph, resolve_format, stored_checksum

    loaded = load_graph(path, graph_format, verify=not no_verify)
    whole = loaded.union() if isinstance(loaded, LayerGraphs) else loaded
    stored = stored_checksum(path, graph_format)
    summary: dict[str, Any] = {
        "path": path, "format": resolve_format(path, graph_format), "class": type(loaded).__name__,
        "encoding": whole.attrs.get("encoding"), "compat": whole.attrs.get("compat"),
        "model": whole.attrs.get("model"), "mask_fingerprint": whole.attrs.get("mask_fingerprint"),
        "num_nodes": whole.num_nodes, "num_edges": whole.num_edges, "partitions": len(whole.partitions),
        "edge_sets": len(whole.edge_sets), "checksum": stored,
        "checksum_status": "absent" if stored is None else ("not compared" if no_verify else "verified"),
    }
    if fmt == "json":
        emit(render_json(summary), None)
    else:
        emit("".join(f"{key}: {'-' if value is None else value}\n" for key, value in summary.items()), None)
