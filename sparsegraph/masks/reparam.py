"""Models pruned with ``torch.nn.utils.prune``: their masks, and plain models to prune further or train.

``torch.nn.utils.prune`` keeps the trainable tensor in ``weight_orig``, the mask in the buffer
``weight_mask`` and recomputes ``weight = weight_orig * weight_mask`` (a non-leaf tensor attribute) before
every forward. Such a model can be measured and encoded as it is, but ``copy.deepcopy`` refuses the
recomputed attribute and code that looks up ``<module>.weight`` among the parameters misses it. The
pipeline therefore works on a *plain* model, ``weight = weight_orig ⊙ weight_mask`` as an ordinary
parameter, and carries the masks separately as the starting mask.
"""

from __future__ import annotations

import copy

from torch import nn
from torch.nn.utils import prune

from sparsegraph.masks.maskset import MaskSet


def is_reparametrised(model: nn.Module) -> bool:
    """Whether any module of ``model`` carries a ``torch.nn.utils.prune`` reparametrisation."""
    return any(isinstance(hook, prune.BasePruningMethod)
               for module in model.modules() for hook in module._forward_pre_hooks.values())


def _pruned_names(module: nn.Module) -> list[str]:
    return [hook._tensor_name for hook in module._forward_pre_hooks.values()
            if isinstance(hook, prune.BasePruningMethod)]


def remove_reparametrisation(model: nn.Module) -> nn.Module:
    """Fold every reparametrisation of ``model`` in place: ``weight`` becomes the plain parameter
    ``weight_orig ⊙ weight_mask``; ``weight_orig``, ``weight_mask`` and the hook are removed. Returns ``model``."""
    for module in model.modules():
        for name in _pruned_names(module):
            prune.remove(module, name)
    return model


def plain_copy(model: nn.Module):
    """``(copy, masks)``: a deep copy of ``model`` without reparametrisations, and the ``weight_mask`` masks.

    ``masks`` is the :class:`~sparsegraph.masks.MaskSet` of the Conv2d/Linear weight masks (see
    ``MaskSet.from_model``). ``model`` itself is not modified.
    """
    masks = MaskSet.from_model(model)
    # the recomputed `weight` attributes cannot be deep-copied; the copy gets None and `prune.remove`
    # sets the folded parameter in its place
    memo = {id(getattr(module, name)): None for module in model.modules() for name in _pruned_names(module)
            if name in vars(module)}
    return remove_reparametrisation(copy.deepcopy(model, memo)), masks
