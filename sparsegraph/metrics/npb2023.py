"""The ``npb2023`` paths convention: pvh1602/NPB ``measure_node_path``, quirks included (metrics.md §5.2).

The model's own forward runs on a float64 CPU deep copy in eval mode, patched as the authors'
``copynet`` does: ``nn.BatchNorm2d`` becomes the identity, a module ``nn.AvgPool2d`` returns its
average times ``k`` (int kernel) or ``kh + kw`` (tuple kernel; the authors' ``ScaleAvgPool2d``, a true
sum only when that factor is ``kh·kw``), a module ``nn.AdaptiveAvgPool2d`` its average times the
``H·W`` of its input. Functional pools stay averages and max pooling stays a max. Every parameter,
biases included, is set to 1 and each mask is applied in the forward (``W = w ⊙ m`` with the leaf
``w = 1``); the input is ``ones(1, *input_shape)`` and ``P = sum(output)`` in plain float64.

A weight is effective iff ``m·∂P/∂W ≠ 0`` in IEEE arithmetic (the leaf's gradient): NaN counts as
nonzero, so after an overflow even pruned weights may count, as in the authors' numbers.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import torch
from torch import Tensor, nn

from sparsegraph.errors import MetricError
from sparsegraph.topology.memory import check_forward_memory


class _ScaledAvgPool2d(nn.AvgPool2d):
    """``nn.AvgPool2d`` times the authors' factor: ``k`` for an int kernel, ``kh + kw`` for a tuple."""

    def forward(self, x: Tensor) -> Tensor:
        kernel = self.kernel_size
        factor = kernel if isinstance(kernel, int) else sum(kernel)
        return super().forward(x) * factor


class _ScaledAdaptiveAvgPool2d(nn.AdaptiveAvgPool2d):
    """``nn.AdaptiveAvgPool2d`` times the ``H·W`` of its input."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x) * (x.shape[-2] * x.shape[-1])


@dataclass(frozen=True)
class NpbPasses:
    """The results of one ``measure_node_path`` reproduction.

    Attributes:
        paths: ``P = sum(output)`` (may be ``inf`` or NaN).
        walk: the authors' weight walk: parameter names with ``'weight'`` in the name and 2 or 4
            dimensions, in registration order.
        effective: parameter name -> bool tensor, ``grad ≠ 0`` (NaN included), for every walked weight.
        layer_of: parameter name -> module name, for the walked weights of ``Conv2d``/``Linear`` modules.
        node_rows: module name -> ``(inputs, outputs)`` of the authors' node count: a non-shortcut conv
            gives ``(effective input channels, 0)``, a linear layer its input and output units read
            from the quirky mask index; shortcut convs are absent.
        numel: parameter name -> number of weights.
    """

    paths: float
    walk: tuple[str, ...]
    effective: Mapping[str, Tensor]
    layer_of: Mapping[str, str]
    node_rows: Mapping[str, tuple[int, int]]
    numel: Mapping[str, int]

    @property
    def layers(self) -> list[str]:
        """Module names of the walked ``Conv2d``/``Linear`` weights, in registration order."""
        return list(self.layer_of.values())

    def param_of(self, layer: str) -> str:
        """The weight parameter of module ``layer``."""
        return f"{layer}.weight"


def _patched_copy(model: nn.Module) -> nn.Module:
    """A float64 CPU deep copy in eval mode with the authors' module replacements."""
    net = copy.deepcopy(model).cpu().double().eval()
    for name, module in list(net.named_modules()):
        if not name:
            continue
        if isinstance(module, nn.BatchNorm2d):
            replacement: nn.Module = nn.Identity()
        elif type(module) is nn.AvgPool2d:
            replacement = _ScaledAvgPool2d(module.kernel_size, module.stride, module.padding, module.ceil_mode,
                                           module.count_include_pad, module.divisor_override)
        elif type(module) is nn.AdaptiveAvgPool2d:
            replacement = _ScaledAdaptiveAvgPool2d(module.output_size)
        else:
            continue
        parent_name, _, child = name.rpartition(".")
        setattr(net.get_submodule(parent_name), child, replacement)
    return net


def npb_passes(model: nn.Module, masks: Mapping[str, Tensor] | None, input_shape: Sequence[int]) -> NpbPasses:
    """Run the authors' all-ones forward and backward on a patched copy of ``model``.

    Args:
        model: the network (not modified).
        masks: parameter name -> 0/1 mask; unmasked parameters are dense.
        input_shape: per-sample input shape.

    Raises:
        MetricError: the forward fails on the patched copy, or a mask does not fit its parameter.
    """
    # a float64 forward with autograd: every intermediate tensor is kept once more for the backward
    check_forward_memory(model, input_shape, "the paths passes (npb2023: float64 forward and backward) on input "
                         + "x".join(map(str, input_shape)), factor=2, dtype=torch.float64)
    masks = dict(masks or {})
    net = _patched_copy(model)
    leaves = {name: torch.ones_like(p, dtype=torch.float64).requires_grad_(True)
              for name, p in net.named_parameters()}
    for name, mask in masks.items():
        if name not in leaves:
            raise MetricError(f"paths (npb2023): mask {name!r} matches no parameter of the model")
        if tuple(mask.shape) != tuple(leaves[name].shape):
            raise MetricError(f"paths (npb2023): mask {name!r} has shape {tuple(mask.shape)}, the parameter "
                              f"has {tuple(leaves[name].shape)}")
    used = {name: leaf * masks[name].detach().to(device="cpu", dtype=torch.float64) if name in masks else leaf
            for name, leaf in leaves.items()}
    x = torch.ones((1, *input_shape), dtype=torch.float64)
    try:
        with torch.enable_grad():
            out = torch.func.functional_call(net, used, (x,))
            total = out.sum()
    except Exception as exc:  # the user's forward on the patched copy; report, never crash measure
        raise MetricError(f"paths (npb2023): the patched float64 forward failed: {exc}") from exc
    walk = tuple(n for n, leaf in leaves.items() if "weight" in n and leaf.dim() in (2, 4))
    grads = torch.autograd.grad(total, [leaves[n] for n in walk], allow_unused=True)
    effective = {n: (torch.zeros_like(leaves[n], dtype=torch.bool) if g is None else g != 0)
                 for n, g in zip(walk, grads)}

    modules = dict(model.named_modules())
    layer_of = {}
    for name in walk:
        module_name = name[: -len(".weight")] if name.endswith(".weight") else None
        if module_name is not None and isinstance(modules.get(module_name), (nn.Conv2d, nn.Linear)):
            layer_of[name] = module_name
    return NpbPasses(paths=float(total.detach()), walk=walk, effective=effective, layer_of=layer_of,
                     node_rows=_node_rows(walk, effective, layer_of), numel={n: leaves[n].numel() for n in walk})


def _node_rows(walk: Sequence[str], effective: Mapping[str, Tensor],
               layer_of: Mapping[str, str]) -> dict[str, tuple[int, int]]:
    """The authors' node count, row by row (their mask index ``i`` advances on 4-D weights only)."""
    rows: dict[str, tuple[int, int]] = {}
    index = 0
    for name in walk:
        eff = effective[name]
        if eff.dim() == 4:
            if "shortcut" not in name:
                rows[layer_of.get(name, name)] = (int((eff.sum(dim=(0, 2, 3)) > 0).sum()), 0)
            index += 1
        else:
            read = effective[walk[index]]  # the index bug: 2-D weights do not advance it
            rows[layer_of.get(name, name)] = (int((read.sum(dim=0) > 0).sum()), int((read.sum(dim=1) > 0).sum()))
    return rows


def log10_or_none(paths: float) -> tuple[float | None, str]:
    """``log10 P`` and an empty reason, or None with the reason it is undefined."""
    if math.isnan(paths) or math.isinf(paths):
        return None, f"path count is not finite in float64 ({paths}); npb2023 does not renormalise"
    if paths <= 0:
        return None, "no input→output path"
    return math.log10(paths), ""
