"""``sparsegraph masks``: what a mask file holds (per-layer densities, fingerprint, metadata), and
whether it fits a model."""

from __future__ import annotations

from typing import Any

import click

from sparsegraph_cli.inputs import model_options
from sparsegraph_cli.options import format_option, parse_shape
from sparsegraph_cli.output import emit, render_csv, render_json, render_table

LAYER_COLUMNS = ("parameter", "shape", "kept", "numel", "density")


@click.command()
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False))
@model_options(with_masks=False, required=False)
@click.option("--input-shape", default=None, metavar="C,H,W",
              help="Build the zoo model for this input shape (e.g. 1,8,8 for digits; default: the one the "
                   "mask file records).")
@format_option(("table", "json", "csv"), "table")
def masks(path: str, model_spec: str | None, checkpoint: str | None, num_classes: int | None,
          model_args: tuple[str, ...], input_shape: str | None, fmt: str) -> None:
    """Summarise the mask file FILE (.safetensors, .pt/.pth or .npz) and check it against --model.

    A file that cannot be read, holds values other than 0/1, or does not fit the model exits with
    code 3 and a one-line message naming the file and the parameter.
    """
    from sparsegraph.masks import MaskSet

    mask_set = MaskSet.load(path)
    summary = _summary(path, mask_set)
    if model_spec is not None:
        summary["model"] = _check_model(mask_set, path, model_spec, checkpoint, num_classes, parse_shape(input_shape),
                                        model_args)
    if fmt == "json":
        emit(render_json(summary), None)
    elif fmt == "csv":
        emit(render_csv(summary["layers"], LAYER_COLUMNS), None)
    else:
        emit(_render_text(summary), None)


def _summary(path: str, mask_set: Any) -> dict[str, Any]:
    densities = mask_set.layer_densities()
    layers = [{"parameter": name, "shape": "x".join(str(s) for s in mask.shape),
               "kept": int(mask.count_nonzero()), "numel": mask.numel(), "density": densities[name]}
              for name, mask in mask_set.items()]
    return {"path": path, "fingerprint": mask_set.fingerprint(), "density": mask_set.density,
            "num_kept": mask_set.num_kept, "numel": mask_set.numel, "metadata": mask_set.metadata,
            "layers": layers, "model": None}


def _check_model(mask_set: Any, path: str, model_spec: str, checkpoint: str | None,
                 num_classes: int | None, input_shape: tuple[int, ...] | None,
                 model_args: tuple[str, ...]) -> dict[str, Any]:
    from sparsegraph.masks import maskable_parameters, model_fingerprint
    from sparsegraph_cli.inputs import build_model

    model = build_model(model_spec, checkpoint, num_classes, input_shape, model_args, mask_set, path)
    return {"spec": model_spec, "fingerprint": model_fingerprint(model), "fits": True,
            "dense_parameters": [name for name in maskable_parameters(model) if name not in mask_set]}


def _render_text(summary: dict[str, Any]) -> str:
    lines = [f"file: {summary['path']}",
             f"fingerprint: {summary['fingerprint']}",
             f"density: {summary['density']:.6g} ({summary['num_kept']:,} of {summary['numel']:,} weights kept)"]
    lines += [f"metadata.{key}: {value}" for key, value in summary["metadata"].items()]
    model = summary["model"]
    if model is not None:
        dense = model["dense_parameters"]
        lines.append(f"model: {model['spec']} (fingerprint {model['fingerprint']}): the masks fit"
                     + (f"; without a mask (dense): {', '.join(dense)}" if dense else ""))
    return "\n".join(lines) + "\n\n" + render_table(summary["layers"], LAYER_COLUMNS)
