"""``sparsegraph measure``: registry metrics of a model and its masks, per layer and for the network."""

from __future__ import annotations

import click

from sparsegraph_cli.inputs import load_model_and_masks, model_options
from sparsegraph_cli.options import device_option, format_option, parse_max_memory, parse_shape
from sparsegraph_cli.output import emit, render_table

# "none" stays a string: it is a value of options such as aggregate=none
_LITERALS = {"true": True, "false": False, "null": None}


def parse_option_value(text: str):
    """``--option`` values: true/false/null, an int, a float, else the string itself."""
    if text.lower() in _LITERALS:
        return _LITERALS[text.lower()]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_options(pairs: tuple[str, ...]) -> dict:
    """``KEY=VALUE`` pairs -> keyword options."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--option")
        options[key] = parse_option_value(value.strip())
    return options


@click.command("measure")
@model_options(with_masks=True)
@click.option("--metrics", required=True, metavar="NAMES",
              help="Comma-separated metric or family names (see `sparsegraph metrics`).")
@click.option("--convention", default=None, metavar="NAME|FAMILY=NAME,...",
              help="A convention for every family that accepts it (neurips2023, iclr2023, exact, npb2023), "
                   "or comma-separated family=value pairs.")
@click.option("--input-shape", default=None, metavar="C,H,W",
              help="Input shape of one sample (default: the zoo model's).")
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
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write to this file.")
@click.option("--write-effective-masks", "effective_masks_path", type=click.Path(dir_okay=False), default=None,
              metavar="PATH", help="Also write the effective weights (on an input→output path; the paths "
                                   "convention applies) as a mask file (.safetensors, .pt or .npz).")
def measure_command(model_spec, checkpoint, num_classes, masks_path, masks_from_zeros, metrics, convention,
                    input_shape, include, exclude, option_pairs, max_memory, device, fmt, output,
                    effective_masks_path) -> None:
    """Measure a model and its masks with registry metrics (layer rows and network rows).

    Memory is estimated before each step (building the model for --input-shape, the trace, the
    graphs, the path passes); a step above --max-memory is refused with exit code 3 and its estimate.
    """
    from sparsegraph.metrics import measure
    from sparsegraph.metrics.registry import resolve
    from sparsegraph.utils.memory import memory_limit

    device = _metric_device(device)

    options = parse_options(option_pairs)
    resolve(metrics)  # an unknown metric name fails before the model is loaded
    shape = parse_shape(input_shape)
    with memory_limit(parse_max_memory(max_memory)):
        model, masks = load_model_and_masks(model_spec, checkpoint, num_classes, masks_path, masks_from_zeros,
                                            shape)
        result = measure(model, masks, metrics, shape, include=include, exclude=exclude,
                         convention=convention, device=device,
                         model_spec=model_spec, masks_path=masks_path, **options)
        if effective_masks_path is not None:
            from sparsegraph.metrics import effective_masks

            paths_convention = result.options.get("paths_convention", "exact")
            effective_masks(model, masks, result.options.get("input_shape"), convention=paths_convention,
                            device=device).save(effective_masks_path)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    if fmt == "json":
        emit(result.to_json(), output)
    elif fmt == "jsonl":
        emit(result.to_jsonl(), output)
    elif fmt == "csv":
        emit(result.to_csv(), output)
    else:
        columns, rows = result.to_grid()
        emit(render_table(rows, columns), output)


def _metric_device(device: str):
    """``auto`` is CUDA when available, else the default host (NumPy/SciPy) route of the metrics;
    an explicit ``cpu`` or ``cuda[:N]`` runs the torch route on that device."""
    import torch

    from sparsegraph.utils import resolve_device

    if device == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else None
    return resolve_device(device)
