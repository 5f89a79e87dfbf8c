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
            click.option("--num-classes", type=click.IntRange(min=1), default=10, show_default=True,
                         help="Number of classes of the model's classifier."),
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


def load_model_and_masks(model_spec: str, checkpoint: str | None, num_classes: int,
                         masks_path: str | None = None, masks_from_zeros: bool = False,
                         input_shape: tuple[int, ...] | None = None):
    """Resolve the model SPEC, load the checkpoint and the masks, and check that they fit.

    A zoo model is built for ``input_shape`` when one is given (e.g. ``1,8,8`` for digits: the
    stem's input channels and the first linear width follow it); other SPECs ignore it here.

    Returns:
        ``(model, masks)``, where ``masks`` is a :class:`sparsegraph.MaskSet`, or None for a dense
        model (with a warning on stderr). Mask sources, in order: ``masks_path``; the model's own
        ``torch.nn.utils.prune`` buffers; the checkpoint's exact zeros when ``masks_from_zeros``.
    """
    from sparsegraph.masks import MaskSet
    from sparsegraph.models import load_model

    model = load_model(model_spec, num_classes=num_classes, checkpoint=checkpoint, input_shape=input_shape)
    if masks_path is not None:
        masks = MaskSet.load(masks_path)
        masks.check_fits(model, source=masks_path)
        return model, masks.in_model_order(model)
    masks = MaskSet.from_model(model, infer_from_zeros=masks_from_zeros)
    if masks is None or len(masks) == 0:
        warnings.warn("no masks given: measuring the dense model", stacklevel=2)
        return model, None
    return model, masks

