"""``sparsegraph measure``: registry metrics of a model and its masks, per layer and for the network."""

from __future__ import annotations

import click

from sparsegraph.metrics.result import TABLE_LAYOUTS, WIDE_TABLE_MAX_WIDTH
from sparsegraph.utils.device import metric_device
from sparsegraph_cli.inputs import load_model_and_masks, model_options, trace_input_options
from sparsegraph_cli.options import device_option, format_option, parse_max_memory, parse_options, parse_shape
from sparsegraph_cli.output import emit


@click.command("measure")
@model_options(with_masks=True)
@trace_input_options()
@click.option("--metrics", required=True, metavar="NAMES",
              help="Comma-separated metric or family names (see `sparsegraph metrics`).")
@click.option("--convention", default=None, metavar="NAME|FAMILY=NAME,...",
              help="A convention for every family that accepts it (neurips2023, iclr2023, exact, npb2023), "
                   "or comma-separated family=value pairs.")
@click.option("--input-shape", default=None, metavar="C,H,W",
              help="Input shape of one sample (default: the one the mask file records, else the zoo model's).")
@click.option("--include", multiple=True, metavar="PATTERN",
              help="Only layers matching this fnmatch pattern (or re:REGEX); repeatable.")
@click.option("--exclude", multiple=True, metavar="PATTERN",
              help="Skip layers matching this fnmatch pattern (or re:REGEX); repeatable.")
@click.option("--option", "option_pairs", multiple=True, metavar="KEY=VALUE",
              help="A metric or measure option, e.g. solver=dense or aggregate=valid_mean; repeatable.")
@click.option("--max-memory", default=None, metavar="SIZE",
              help="Memory limit of every estimate (model, trace, graphs, path passes), e.g. 8GB "
                   "(default: $SPARSEGRAPH_MAX_BYTES or 4GiB); work above it is refused before it starts.")
@device_option()
@format_option(("table", "json", "jsonl", "csv"), "table")
@click.option("--layout", type=click.Choice(TABLE_LAYOUTS), default="auto", show_default=True,
              help="Table layout: a layer x metric grid (wide), one (metric, layer, value) row per value (long), "
                   f"or auto: wide while it fits in {WIDE_TABLE_MAX_WIDTH} characters.")
@click.option("--strict", is_flag=True,
              help="Exit with status 1 when a metric value failed (after writing the output).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write to this file.")
@click.option("--write-effective-masks", "effective_masks_path", type=click.Path(dir_okay=False), default=None,
              metavar="PATH", help="Also write the effective weights (on an input→output path; the paths "
                                   "convention applies) as a mask file (.safetensors, .pt or .npz).")
def measure_command(model_spec, checkpoint, num_classes, model_args, masks_path, masks_from_zeros, metrics,
                    convention, input_shape, include, exclude, option_pairs, max_memory, device, fmt, layout, strict,
                    output,
                    effective_masks_path) -> None:
    """Measure a model and its masks with registry metrics (layer rows and network rows).

    Memory is estimated before each step (building the model for --input-shape, the trace, the
    graphs, the path passes); a step above --max-memory is refused with exit code 3 and its estimate.
    Each distinct failure reason is printed once on stderr (failed cells show ERROR in tables).
    """
    from sparsegraph.errors import MetricError
    from sparsegraph.metrics import measure
    from sparsegraph.metrics.registry import resolve
    from sparsegraph.utils.memory import memory_limit

    options = parse_options(option_pairs)
    resolve(metrics)  # an unknown metric name fails before the model is loaded
    shape = parse_shape(input_shape)
    with memory_limit(parse_max_memory(max_memory)):
        model, masks = load_model_and_masks(model_spec, checkpoint, num_classes, masks_path, masks_from_zeros,
                                            shape, model_args)
        result = measure(model, masks, metrics, shape, include=include, exclude=exclude,
                         convention=convention, device=device,
                         model_spec=model_spec, masks_path=masks_path, **options)
        if effective_masks_path is not None:
            from sparsegraph.metrics import effective_masks

            paths_convention = result.options.get("paths_convention", "exact")
            effective_masks(model, masks, result.options.get("input_shape"), convention=paths_convention,
                            device=metric_device(device)).save(effective_masks_path)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    failures = result.failures()
    for failure in failures:
        click.echo(f"error: {failure.describe()}", err=True)
    text = {"json": result.to_json, "jsonl": result.to_jsonl, "csv": result.to_csv}.get(fmt)
    emit(text() if text else result.to_table(layout), output)
    if strict and failures:
        failed = sum(len(f.cells) for f in failures)
        raise MetricError(f"{failed} metric value(s) failed ({len(failures)} distinct reason(s) above); "
                          "the output was written")
