"""Named weight-initialisation schemes, drawn from an explicit generator when one is given.

Schemes (``k`` = kernel side, ``C_out`` = output channels, ``fan_in`` = inputs per output unit):

* ``default``: PyTorch's own initialisation. Conv/Linear weights ~ U(-1/sqrt(fan_in),
  1/sqrt(fan_in)) (``kaiming_uniform_(a=sqrt(5))``), biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in));
  batch-norm weight 1, bias 0.
* ``kaiming_normal``: conv and linear weights ~ N(0, 2/fan_in) (He et al., ICCV 2015;
  ``kaiming_normal_(mode="fan_in", nonlinearity="relu")``), biases 0; batch-norm weight 1, bias 0.
  It keeps the activation variance constant through ReLU layers; the zoo's plain ReLU nets without
  batch norm (lenet5, conv6) use it by default: under PyTorch's default, whose variance is
  ``1/(3·fan_in)``, the signal shrinks about sixfold per layer, and CONV-6 on digits trains to chance
  even dense.
* ``kaiming_fan_out``: conv weights ~ N(0, 2/(k*k*C_out)) (``kaiming_normal_(mode="fan_out",
  nonlinearity="relu")``, as torchvision's ResNets), conv biases 0; batch-norm weight 1, bias 0;
  linear layers as ``default``.
* ``hoang2023``: conv weights ~ N(0, 2/(k*k*C_out)), conv biases 0; batch-norm weight 0.5, bias 0;
  linear weights ~ N(0, 0.01^2), linear biases 0 (the initialisation of Hoang et al., NeurIPS
  2023, before pruning).

Only convolutions (``nn.Conv1d/2d/3d``), ``nn.Linear`` and batch norms are (re)initialised; other
modules keep the values their constructors drew. Batch-norm running statistics are reset.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd

from sparsegraph.errors import UsageError
from sparsegraph.utils.seed import make_generator, resolve_seed

INIT_SCHEMES = ("default", "kaiming_normal", "kaiming_fan_out", "hoang2023")


@torch.no_grad()
def _draw(tensor: torch.Tensor, fill: Callable[[torch.Tensor], object]) -> None:
    # Drawn on CPU and copied, so a CPU generator also initialises a model on another device.
    values = torch.empty(tensor.shape, dtype=tensor.dtype, device="cpu")
    fill(values)
    tensor.copy_(values)


def _fan_in(weight: torch.Tensor) -> int:
    return weight[0].numel()


def _fan_out_conv(weight: torch.Tensor) -> int:
    return weight.shape[0] * weight[0, 0].numel()


def _pytorch_default(module: nn.Module, generator: torch.Generator | None) -> None:
    bound = 1.0 / math.sqrt(_fan_in(module.weight)) if module.weight.numel() else 0.0
    _draw(module.weight, lambda t: t.uniform_(-bound, bound, generator=generator))
    if module.bias is not None:
        _draw(module.bias, lambda t: t.uniform_(-bound, bound, generator=generator))


def _conv_fan_out_normal(module: nn.Module, generator: torch.Generator | None) -> None:
    std = math.sqrt(2.0 / _fan_out_conv(module.weight))
    _draw(module.weight, lambda t: t.normal_(0.0, std, generator=generator))
    if module.bias is not None:
        module.bias.data.zero_()


def _fan_in_normal(module: nn.Module, generator: torch.Generator | None) -> None:
    std = math.sqrt(2.0 / _fan_in(module.weight)) if module.weight.numel() else 0.0
    _draw(module.weight, lambda t: t.normal_(0.0, std, generator=generator))
    if module.bias is not None:
        module.bias.data.zero_()


def _linear_hoang2023(module: nn.Module, generator: torch.Generator | None) -> None:
    _draw(module.weight, lambda t: t.normal_(0.0, 0.01, generator=generator))
    if module.bias is not None:
        module.bias.data.zero_()


def _batch_norm(gamma: float) -> Callable[[nn.Module, torch.Generator | None], None]:
    def init(module: nn.Module, generator: torch.Generator | None) -> None:
        module.reset_parameters()
        if module.affine:
            module.weight.data.fill_(gamma)

    return init


# scheme -> (conv, linear, batch norm) initialisers
_SCHEMES = {
    "default": (_pytorch_default, _pytorch_default, _batch_norm(1.0)),
    "kaiming_normal": (_fan_in_normal, _fan_in_normal, _batch_norm(1.0)),
    "kaiming_fan_out": (_conv_fan_out_normal, _pytorch_default, _batch_norm(1.0)),
    "hoang2023": (_conv_fan_out_normal, _linear_hoang2023, _batch_norm(0.5)),
}


def init_weights(model: nn.Module, scheme: str = "default", *, seed: int | None = None,
                 generator: torch.Generator | None = None) -> nn.Module:
    """(Re)initialise ``model`` in place with a named scheme (see the module docstring).

    Args:
        model: any module; its convolutions, linear layers and batch norms are initialised, in
            registration order (so a given seed always gives the same weights).
        scheme: one of :data:`INIT_SCHEMES`.
        seed: draw from a fresh CPU generator seeded with ``seed``.
        generator: draw from this CPU generator (advancing it). Without ``seed`` and
            ``generator`` the global RNG is used, as PyTorch's constructors do.

    Returns:
        ``model``.
    """
    if scheme not in _SCHEMES:
        raise UsageError(f"unknown init scheme {scheme!r} (choose from {', '.join(INIT_SCHEMES)})")
    if seed is not None and generator is not None:
        raise UsageError("init_weights: give seed or generator, not both")
    if seed is not None:
        generator = make_generator(resolve_seed(seed))
    conv_init, linear_init, bn_init = _SCHEMES[scheme]
    for module in model.modules():
        if isinstance(module, _ConvNd):
            conv_init(module, generator)
        elif isinstance(module, nn.Linear):
            linear_init(module, generator)
        elif isinstance(module, _BatchNorm):
            bn_init(module, generator)
    return model
