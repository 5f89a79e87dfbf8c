"""Options and loading shared by the commands that read a model and its masks."""

from __future__ import annotations

import functools
import warnings
from typing import Callable

import click


def model_options(with_masks: bool = True, required: bool = True) -> Callable[[Callable], Callable]:
    """``--model SPEC --checkpoint PATH --num-classes N`` (and ``--masks PATH --masks-from-zeros``).

    With ``required=False`` the model is optional (``model_spec`` is then None when not given).
    """

    def decorate(func: Callable) -> Callable:
        opts = [
            click.option("--model", "model_spec", required=required, default=None, metavar="SPEC",
                         help="Zoo name, torchvision:<name>, file.py:callable or package.module:callable."),
            click.option("--checkpoint", type=click.Path(dir_okay=False), default=None,
                         help="State dict to load (.safetensors, or .pt/.pth read with weights_only=True)."),
            click.option("--num-classes", type=click.IntRange(min=1), default=None,
                         help="Number of classes of the model's classifier (default 10)."),
            click.option("--model-arg", "model_args", multiple=True, metavar="KEY=VALUE",
                         help="A constructor argument of the model, e.g. in_chans=1 or model_name=resnet18 "
                              "(values: ints, floats, true/false/null, else strings); repeatable."),
        ]
        if with_masks:
            opts += [
                click.option("--masks", "masks_path", type=click.Path(dir_okay=False), default=None,
                             help="Mask file (.safetensors, .pt/.pth or .npz)."),
                click.option("--masks-from-zeros", is_flag=True,
                             help="Without --masks, infer masks from the exact zeros of the checkpoint."),
            ]
        for opt in reversed(opts):
            func = opt(func)
        return functools.wraps(func)(func)

    return decorate


def trace_input_options() -> Callable[[Callable], Callable]:
    """``--input-dtype`` and ``--leaf-module``: the command runs inside ``sg.topology.trace_options``."""

    def decorate(func: Callable) -> Callable:
        @functools.wraps(func)
        def run(*args, input_dtype: str | None, leaf_modules: tuple[str, ...], **kwargs):
            from sparsegraph.models.loading import resolve_class
            from sparsegraph.topology import trace_options

            with trace_options(leaf_modules=[resolve_class(spec, "--leaf-module") for spec in leaf_modules] or None,
                               input_dtype=input_dtype):
                return func(*args, **kwargs)

        from sparsegraph.topology.inputs import DTYPE_NAMES

        run = click.option("--leaf-module", "leaf_modules", multiple=True, metavar="CLASS",
                           help="Trace instances of this nn.Module class (package.module.Class or "
                                "file.py:Class) as opaque element-wise blocks, e.g. "
                                "timm.models._efficientnet_blocks.SqueezeExcite; repeatable.")(run)
        return click.option("--input-dtype", type=click.Choice(sorted(DTYPE_NAMES)), default=None,
                            help="Dtype of the traced input: int64 for token ids (default: the model's "
                                 "float).")(run)

    return decorate


def build_model(model_spec: str, checkpoint: str | None, num_classes: int | None,
                input_shape: tuple[int, ...] | None = None, model_args: tuple[str, ...] = (),
                masks=None, masks_path: str | None = None):
    """The model for ``--model``, built for ``input_shape``, else for the input shape the masks record.

    Checks that ``masks`` fit it; a mismatch names the input shape to pass.
    """
    from sparsegraph.errors import MaskError
    from sparsegraph.models import load_model
    from sparsegraph_cli.options import parse_options

    recorded = masks.metadata.get("input_shape") if masks is not None else None
    recorded = tuple(int(s) for s in recorded) if isinstance(recorded, (list, tuple)) and recorded else None
    shape = input_shape or recorded
    if num_classes is None:
        num_classes = 10
        if model_spec.startswith("torchvision:"):
            click.echo(f"note: {model_spec} is built with 10 classes (the --num-classes default); torchvision's "
                       "own models and checkpoints have 1000: pass --num-classes 1000 for them", err=True)
    model = load_model(model_spec, num_classes=num_classes, checkpoint=checkpoint, input_shape=shape,
                       **parse_options(tuple(model_args), "--model-arg"))
    if shape is not None:
        model.input_shape = tuple(shape)  # the masks' input shape wins over a loader's default
    if masks is not None:
        try:
            masks.check_fits(model, source=masks_path)
        except MaskError as exc:
            hint = _input_shape_hint(masks, model, input_shape, recorded)
            if hint is None:
                raise
            raise MaskError(f"{exc}; {hint}") from None
    return model


def _input_shape_hint(masks, model, input_shape: tuple[int, ...] | None,
                      recorded: tuple[int, ...] | None) -> str | None:
    """Advice when a mask misfits its weight beyond the output dimension (the input width follows the shape)."""
    from sparsegraph.masks import maskable_parameters

    weights = maskable_parameters(model)
    misfit = [name for name, mask in masks.items() if name in weights
              and tuple(mask.shape[1:]) != tuple(weights[name].shape[1:])]
    if not misfit:
        return None
    if recorded is not None and input_shape is not None and tuple(input_shape) != recorded:
        shape = ",".join(map(str, recorded))
        return f"the masks were made for input shape {shape} (recorded in the file): pass --input-shape {shape}"
    if recorded is None and input_shape is None:
        return ("if the masks were made for another input shape (1,8,8 for digits, 1,28,28 for MNIST), pass "
                "--input-shape")
    return None


def load_model_and_masks(model_spec: str, checkpoint: str | None, num_classes: int | None,
                         masks_path: str | None = None, masks_from_zeros: bool = False,
                         input_shape: tuple[int, ...] | None = None, model_args: tuple[str, ...] = ()):
    """Resolve the model SPEC, load the checkpoint and the masks, and check that they fit.

    A zoo model is built for ``input_shape`` when one is given (e.g. ``1,8,8`` for digits: the
    stem's input channels and the first linear width follow it), else for the input shape recorded in
    the mask file (``sparsegraph prune`` records its dataset's); the model's ``input_shape`` is set
    to it. ``model_args`` are ``KEY=VALUE`` constructor arguments.

    Returns:
        ``(model, masks)``, where ``masks`` is a :class:`sparsegraph.MaskSet`, or None for a dense
        model (with a warning on stderr). Mask sources, in order: ``masks_path``; the model's own
        ``torch.nn.utils.prune`` buffers; the checkpoint's exact zeros when ``masks_from_zeros``.
    """
    from sparsegraph.masks import MaskSet

    if masks_path is not None:
        masks = MaskSet.load(masks_path)
        model = build_model(model_spec, checkpoint, num_classes, input_shape, model_args, masks, masks_path)
        return model, masks.in_model_order(model)
    model = build_model(model_spec, checkpoint, num_classes, input_shape, model_args)
    masks = MaskSet.from_model(model, infer_from_zeros=masks_from_zeros)
    if masks is None or len(masks) == 0:
        warnings.warn("no masks given: measuring the dense model", stacklevel=2)
        return model, None
    return model, masks
