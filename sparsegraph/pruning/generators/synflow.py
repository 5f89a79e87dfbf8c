"""synflow: iterative synaptic flow, data-free (Tanaka et al., NeurIPS 2020; spec pruning §2).

The scoring copy is converted to float64, put in eval mode, and every floating state-dict entry is
replaced by its absolute value. Each of R rounds (default 100) forwards one all-ones input
``torch.ones(1, *input_shape)`` through the masked |·| net, R_flow = Σ outputs, and scores
S = |W ⊙ ∂R_flow/∂W|; pruned entries are −∞ and the exponential schedule keeps k_r.

float64 is mandatory: R_flow grows geometrically with depth (≈ 1.4e27 on CIFAR ResNet-18, 2.5e53 on
ResNet-34 at Kaiming fan-out init) and overflows float32 on ResNet-34 (``dtype="float32"`` exists only to
show that). Known behaviour: at d = 0.01 the three 1×1 shortcut convs of CIFAR ResNet-18/34 keep no
weight (identity paths still carry the signal).

Example:
    Shrink the classifier's initial weights a hundredfold: magnitude pruning removes the whole layer
    (layer collapse); SynFlow keeps weights in every layer.

    >>> import torch, sparsegraph as sg
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    >>> with torch.no_grad():
    ...     _ = net[2].weight.mul_(0.01)
    >>> sg.prune(net, "magnitude", density=0.1, seed=0).layer_densities()["2.weight"]
    0.0
    >>> sg.prune(net, "synflow", density=0.1, input_shape=(4,), rounds=10, seed=0).layer_densities()["2.weight"] > 0
    True
"""

from __future__ import annotations

import torch
from torch import nn

from sparsegraph.errors import UsageError
from sparsegraph.models.outputs import logits_of
from sparsegraph.pruning.generators.context import ScoringContext
from sparsegraph.pruning.registry import register_generator
from sparsegraph.topology.inputs import example_input

DTYPES = {"float64": torch.float64, "float32": torch.float32}


def synflow_prepare(model: nn.Module, ctx: ScoringContext) -> None:
    """Convert the scoring copy to the scoring dtype, eval mode, and |·| of every floating state entry."""
    dtype_name = ctx.options["dtype"]
    if dtype_name not in DTYPES:
        raise UsageError(f"synflow dtype must be one of {tuple(DTYPES)}, got {dtype_name!r}")
    model.to(DTYPES[dtype_name])
    model.eval()
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.abs_()


def synflow_scores(model: nn.Module, ctx: ScoringContext) -> dict[str, torch.Tensor]:
    """S = |W ⊙ ∂R_flow/∂W| with R_flow = Σ f_|·|(1) (see the module docstring)."""
    weights = list(ctx.params.values())
    # float inputs in the scoring dtype; token ids (an integer input dtype) are all 1
    ones = example_input(model, ctx.input_shape, ctx.input_dtype, fill=1.0, device=weights[0].device)
    flow = logits_of(model(ones)).sum()
    grads = torch.autograd.grad(flow, weights, allow_unused=True)
    return {name: (w.detach() * g).abs() if g is not None else torch.zeros_like(w.detach())
            for (name, w), g in zip(ctx.params.items(), grads)}


register_generator("synflow", synflow_scores, scope="global", data="shape", rounds=100,
                   options={"dtype": "float64"}, prepare=synflow_prepare,
                   description="iterative synaptic flow on the |·| net in float64, data-free (Tanaka et al.)")
