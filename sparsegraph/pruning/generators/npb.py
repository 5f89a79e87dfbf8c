"""npb: Node-Path Balancing, one exact MILP per layer or chunk, data-free (spec pruning §2; the machinery is
in :mod:`sparsegraph.pruning.npb`).

Example:
    NPB keeps exactly K = round(d·N) weights, all on input→output paths; uniform random masks of the
    same density leave none effective on this tiny MLP.

    >>> import torch, sparsegraph as sg
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16),
    ...                           torch.nn.ReLU(), torch.nn.Linear(16, 3))
    >>> masks = sg.prune(net, "npb", density=0.1, seed=0, input_shape=(4,))
    >>> masks.num_kept, sg.effective_masks(net, masks, input_shape=(4,)).num_kept
    (37, 37)
    >>> {n: int(m.sum()) for n, m in masks.items()}
    {'0.weight': 10, '2.weight': 17, '4.weight': 10}
    >>> random = sg.prune(net, "random", density=0.1, seed=0)
    >>> random.num_kept, sg.effective_masks(net, random, input_shape=(4,)).num_kept
    (37, 0)
"""

from __future__ import annotations

from sparsegraph.errors import UsageError
from sparsegraph.pruning.npb.plan import NPB_OPTIONS
from sparsegraph.pruning.npb.runner import run_npb
from sparsegraph.pruning.registry import GeneratorInfo, register_generator


def _no_one_shot_score(model, ctx):
    raise UsageError("'npb' solves layer MILPs and has no one-shot score; use sg.pruning.run or sg.prune")


register_generator(GeneratorInfo(name="npb", score=_no_one_shot_score, scope="layer", allocation="erk",
                                 min_per_layer=1, data="shape", options=NPB_OPTIONS, runner=run_npb,
                                 description="Node-Path Balancing: layer-wise exact MILPs, paths vs nodes, "
                                             "data-free (Pham et al.)"))
