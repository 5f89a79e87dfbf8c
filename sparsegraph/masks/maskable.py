"""The maskable parameters of a model (pruning spec §1.1): the weight of every Conv2d and Linear."""

from __future__ import annotations

from torch import Tensor, nn

MASKABLE_MODULES: tuple[type[nn.Module], ...] = (nn.Conv2d, nn.Linear)


def parameter_name(module_name: str, attribute: str = "weight") -> str:
    """The fully qualified name of ``attribute`` of the module called ``module_name``."""
    return f"{module_name}.{attribute}" if module_name else attribute


def maskable_parameters(model: nn.Module) -> dict[str, Tensor]:
    """The maskable weights of ``model``, in *MaskSet order* (``named_parameters()`` order).

    A module reparametrised by ``torch.nn.utils.prune`` keeps its trainable tensor in
    ``weight_orig``; it is still listed under ``<module>.weight``, the name masks refer to.

    Returns:
        Ordered dict parameter name -> the parameter (``weight`` or ``weight_orig``).
    """
    params: dict[str, Tensor] = {}
    for module_name, module in model.named_modules():
        if not isinstance(module, MASKABLE_MODULES):
            continue
        own = dict(module.named_parameters(recurse=False))
        weight = own.get("weight", own.get("weight_orig"))
        if weight is not None:
            params[parameter_name(module_name)] = weight
    return params
