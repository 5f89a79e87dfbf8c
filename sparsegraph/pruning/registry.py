"""The generator registry: built-ins, ``register_generator`` and the ``sparsegraph.generators`` entry points.

A generator is a scoring function plus metadata; the machinery in :mod:`sparsegraph.pruning.api` does the
rest (copying, masking, rounds, validation, exact selection)::

    import sparsegraph as sg

    @sg.pruning.register_generator("grad-norm", scope="global", data="labels")
    def grad_norm(model, ctx):
        ...  # return {name: score tensor shaped like ctx.params[name]}

Third-party packages expose a module (or a ``GeneratorInfo``, or a callable ``register(registry)``) in the
entry-point group ``sparsegraph.generators``; it is loaded the first time the registry is consulted. The
store is the generic :class:`~sparsegraph.registry.Registry` (:data:`GENERATORS`): a plugin that fails to
load is skipped with one warning and listed by :func:`failed_plugins`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from sparsegraph.errors import GeneratorRegistrationError
from sparsegraph.registry import Registry

ENTRY_POINT_GROUP = "sparsegraph.generators"
SCOPES = ("global", "layer")
DATA_KINDS = (None, "labels", "shape")

ScoreFunction = Callable[..., Mapping[str, "object"]]


@dataclass(frozen=True)
class GeneratorInfo:
    """A registered mask generator.

    Attributes:
        name: the method name (``sg.prune(model, name, ...)``).
        score: ``score(model, ctx) -> {param name: score tensor}``; larger is kept.
        scope: default selection scope, ``"global"`` or ``"layer"``.
        allocation: default layer-scope budgets, ``"uniform"``, ``"er"`` or ``"erk"``.
        min_per_layer: default minimum kept per layer.
        data: None (data-free), ``"labels"`` (labelled batches) or ``"shape"`` (only the input shape).
        reads_weights: False when ``score`` reads only the parameters' shapes (random keys): it then
            runs on the caller's model itself, with no scoring copy and no masking between rounds.
        rounds: default number of exponential-schedule rounds (1 = one-shot).
        options: the generator's own options and their defaults.
        prepare: optional ``prepare(model, ctx)`` run once on the scoring copy before the first round.
        description: one line for listings.
        runner: for meta-methods that are not one score-and-select pass (PAGS, PEGS, IMP, Early-Bird):
            ``runner(model, density, data, seed, **opts) -> PruneResult`` replaces the machinery of
            :func:`sparsegraph.pruning.run`; ``score`` is then only used by ``scores()``.
    """

    name: str
    score: ScoreFunction
    scope: str = "global"
    allocation: str = "uniform"
    min_per_layer: int = 0
    data: str | None = None
    reads_weights: bool = True
    rounds: int = 1
    options: Mapping[str, object] = field(default_factory=dict)
    prepare: Callable[[nn.Module, object], None] | None = None
    description: str = ""
    runner: Callable[..., object] | None = None

    @property
    def iterative(self) -> bool:
        return self.rounds > 1


def _load_plugin(obj: Any, registry: Registry) -> None:
    if isinstance(obj, GeneratorInfo):
        _add(obj)
    elif callable(obj) and not inspect.ismodule(obj):
        obj(registry)
    elif not inspect.ismodule(obj):
        raise GeneratorRegistrationError(f"entry point object {obj!r} is neither a GeneratorInfo, a module nor a callable")


#: Every pruning method (name -> GeneratorInfo): the built-in modules register on import, plugins after.
GENERATORS: Registry[GeneratorInfo] = Registry(
    "pruning method", entry_point_group=ENTRY_POINT_GROUP, load_plugin=_load_plugin,
    builtins=("sparsegraph.pruning.generators",  # magnitude, random, snip, grasp, synflow ...
              "sparsegraph.pruning.samplers",    # PAGS, PEGS
              "sparsegraph.pruning.baselines",   # IMP, Early-Bird
              "sparsegraph.pruning.dst"),        # SET, RigL
    listing=lambda: "choose one of: " + ", ".join(sorted(GENERATORS.names())))


def _add(info: GeneratorInfo) -> GeneratorInfo:
    if not isinstance(info.name, str) or not info.name:
        raise GeneratorRegistrationError(f"a generator needs a non-empty name, got {info.name!r}")
    if GENERATORS.peek(info.name) is not None:
        raise GeneratorRegistrationError(f"a generator named {info.name!r} is already registered")
    if info.scope not in SCOPES:
        raise GeneratorRegistrationError(f"generator {info.name!r}: scope must be one of {SCOPES}")
    if info.data not in DATA_KINDS:
        raise GeneratorRegistrationError(f"generator {info.name!r}: data must be one of {DATA_KINDS}")
    if not callable(info.score):
        raise GeneratorRegistrationError(f"generator {info.name!r}: the score function is not callable")
    if int(info.rounds) < 1 or int(info.min_per_layer) < 0:
        raise GeneratorRegistrationError(f"generator {info.name!r}: rounds must be >= 1, min_per_layer >= 0")
    GENERATORS.register(info.name, info)
    return info


def register_generator(name: str | GeneratorInfo, score: ScoreFunction | None = None, **fields):
    """Register a generator; works as a decorator or a call, and refuses duplicates.

    ``register_generator(info)``, ``register_generator("name", fn, scope=...)`` or
    ``@register_generator("name", scope=...)`` above ``def fn(model, ctx)``. ``fields`` are the other
    :class:`GeneratorInfo` attributes.

    Raises:
        GeneratorRegistrationError: duplicate name or invalid metadata.
    """
    if isinstance(name, GeneratorInfo):
        return _add(name)
    if score is not None:
        return _add(GeneratorInfo(name=name, score=score, **fields))

    def decorator(fn: ScoreFunction) -> ScoreFunction:
        _add(GeneratorInfo(name=name, score=fn, **fields))
        return fn

    return decorator


def get_generator(name: str) -> GeneratorInfo:
    """The registered generator ``name``; an unknown name lists the valid ones (UsageError)."""
    return GENERATORS.get(name)


def list_generators() -> list[GeneratorInfo]:
    """Every registered generator, sorted by name."""
    return [GENERATORS.get(name) for name in sorted(GENERATORS.names())]


def failed_plugins() -> list[str]:
    """One line per generator plugin that failed to load: ``distribution: entry point (error)``."""
    return GENERATORS.broken_plugins()
