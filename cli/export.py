"""``sparsegraph export``: encode a model (and masks) as a graph file for external tools."""

from __future__ import annotations

import click

from sparsegraph.graphs.encodings import GRAPH_ENCODINGS
from sparsegraph.graphs.formats import formats
from sparsegraph_cli.inputs import load_model_and_masks, model_options, trace_input_options
from sparsegraph_cli.options import parse_max_memory, parse_shape

ENCODINGS = tuple(GRAPH_ENCODINGS.names())
FORMATS = formats()


@click.command("export")
@model_options()
@trace_input_options()
@click.option("--encoding", required=True, metavar="{" + ",".join(ENCODINGS) + "}",
              help="Graph encoding: rolled, rolled-channel, unrolled (per layer) or mge (whole network).")
@click.option("--input-shape", default=None, metavar="C,H,W",
              help="Per-sample input shape; needed for unrolled/mge unless the mask file records one or the "
                   "model is a zoo model.")
@click.option("--compat", default=None, metavar="mge2024",
              help="Reproduce the published code's graphs (mge-snn, TMLR 2024).")
@click.option("--format", "fmt", required=True, metavar="{" + ",".join(FORMATS) + "}",
              help="File format: pyg (.pt), graphml, edgelist (.tsv/.tsv.gz), npz or mtx.")
@click.option("-o", "--output", required=True, metavar="PATH",
              help="Output file ('-' writes an edge list to stdout, without its sidecar).")
@click.option("--max-memory", default=None, metavar="SIZE",
              help="Memory limit of every estimate (model, trace, graph), e.g. 8GB or 512MiB "
                   "(default: $SPARSEGRAPH_MAX_BYTES or 4GiB).")
def export(model_spec: str, checkpoint: str | None, num_classes: int | None, model_args: tuple[str, ...],
           masks_path: str | None, masks_from_zeros: bool, encoding: str, input_shape: str | None,
           compat: str | None, fmt: str,
           output: str, max_memory: str | None) -> None:
    """Write the graph of a (pruned) model to PATH.

    edgelist, npz, mtx and graphml are streamed layer by layer; edgelist and mtx get a
    PATH.meta.json sidecar with the node attributes. The file size is estimated and printed on
    stderr before writing; PATH is replaced only once complete. Exit codes: 0 success, 2 usage error
    (unknown encoding or format, missing --input-shape), 3 bad input (unreadable model or mask, mask
    not fitting, unsupported layer), a graph too large for --max-memory, or an output that cannot be
    written (no permission, not enough free space).
    """
    from sparsegraph.errors import UsageError
    from sparsegraph.graphs import export as export_graph
    from sparsegraph.graphs.encoder import check_encoding
    from sparsegraph.graphs.encodings import check_compat
    from sparsegraph.graphs.formats import resolve_format
    from sparsegraph.utils.memory import memory_limit

    # the library's checks, before the model is loaded, naming the option
    for option, check in (("--encoding", lambda: check_encoding(encoding, None)),
                          ("--compat", lambda: check_compat(compat)), ("--format", lambda: resolve_format(output, fmt))):
        try:
            check()
        except UsageError as exc:
            raise UsageError(f"{option}: {exc}") from None
    if output == "-" and fmt != "edgelist":
        raise UsageError(f"-o -: only the edgelist format can be written to stdout, not {fmt}")
    try:
        shape = parse_shape(input_shape)
    except click.BadParameter as exc:
        raise UsageError(f"{exc}") from None
    limit = parse_max_memory(max_memory)
    with memory_limit(limit):
        model, masks = load_model_and_masks(model_spec, checkpoint, num_classes, masks_path, masks_from_zeros,
                                            shape, model_args)
        export_graph(model, masks, output, fmt, encoding=encoding, input_shape=shape, compat=compat,
                     max_bytes=limit, model_spec=model_spec, notify=lambda line: click.echo(line, err=True),
                     progress=True)
    if output != "-":
        click.echo(f"wrote {output}", err=True)
