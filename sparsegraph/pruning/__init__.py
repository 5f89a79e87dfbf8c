"""Pruning at initialisation: mask generators with exact counts (spec pruning §1–§2).

Public names (imported lazily): ``prune``, ``run``, ``scores``, ``PruneResult``, ``list_generators``,
``register_generator``, ``GeneratorInfo``, ``ScoringContext``.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "prune": "sparsegraph.pruning.api",
    "run": "sparsegraph.pruning.api",
    "scores": "sparsegraph.pruning.api",
    "PruneResult": "sparsegraph.pruning.api",
    "list_generators": "sparsegraph.pruning.registry",
    "register_generator": "sparsegraph.pruning.registry",
    "GeneratorInfo": "sparsegraph.pruning.registry",
    "ScoringContext": "sparsegraph.pruning.generators.context",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sparsegraph.pruning' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
