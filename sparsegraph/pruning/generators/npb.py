"""npb: Node-Path Balancing, one exact MILP per layer or chunk, data-free (spec pruning §2; the machinery is
in :mod:`sparsegraph.pruning.npb`)."""

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
