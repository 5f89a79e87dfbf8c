"""Pruning at initialisation: mask generators with exact counts (spec pruning §1–§2).

Public names (imported lazily): ``prune``, ``run``, ``scores``, ``dst_update``, ``PruneResult``, ``list_generators``,
``register_generator``, ``GeneratorInfo``, ``ScoringContext``.
"""

from __future__ import annotations

from sparsegraph._lazy import lazy_attributes as _lazy_attributes

_LAZY = {
    "prune": "sparsegraph.pruning.api",
    "run": "sparsegraph.pruning.api",
    "scores": "sparsegraph.pruning.api",
    "dst_update": "sparsegraph.pruning.dst",
    "PruneResult": "sparsegraph.pruning.api",
    "list_generators": "sparsegraph.pruning.registry",
    "register_generator": "sparsegraph.pruning.registry",
    "GeneratorInfo": "sparsegraph.pruning.registry",
    "ScoringContext": "sparsegraph.pruning.generators.context",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = _lazy_attributes(__name__, _LAZY)
