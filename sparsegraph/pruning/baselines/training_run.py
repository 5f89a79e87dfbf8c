"""What the training baselines (IMP, Early-Bird) share: options, data checks, the maskable set, working copies."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from torch import nn

from sparsegraph.errors import UsageError

# training options forwarded to sparsegraph.training.train, with their defaults
TRAIN_OPTIONS: dict[str, Any] = {"recipe": None, "train_options": None, "device": "auto", "amp": "auto",
                                 "channels_last": "auto", "deterministic": False, "progress": False,
                                 "select_on_test": False, "run_dir": None, "resume": False, "log": None}
# maskable-set options, as for every generator
MASKABLE_OPTIONS: dict[str, Any] = {"dense_first_layer": False, "dense_classifier": False, "exclude": (),
                                    "input_shape": None, "tie_break": "random"}


def split_options(opts: Mapping[str, Any], own: Mapping[str, Any], method: str) -> dict[str, Any]:
    """Every option with defaults; unknown ones are a usage error naming the valid ones."""
    valid = {**TRAIN_OPTIONS, **MASKABLE_OPTIONS, **own}
    unknown = sorted(set(opts) - set(valid))
    if unknown:
        raise UsageError(f"unknown option(s) for {method!r}: {', '.join(unknown)}; valid: {', '.join(sorted(valid))}")
    return {**valid, **opts}


def check_train_data(data: Any, method: str):
    """``data`` must be a :class:`~sparsegraph.training.TrainData` (train, val, test splits)."""
    from sparsegraph.training import TrainData

    if not isinstance(data, TrainData):
        raise UsageError(f"{method} trains the network: pass data=sparsegraph.training.load_train_data(...) "
                         f"(a TrainData), got {type(data).__name__}")
    return data


def resolve_recipe(options: Mapping[str, Any], data) -> Any:
    from sparsegraph.training import resolve_recipe as resolve

    recipe = options["recipe"]
    overrides = dict(options["train_options"] or {})
    if hasattr(recipe, "lr_at"):  # a Recipe object
        import dataclasses

        return dataclasses.replace(recipe, **overrides) if overrides else recipe
    return resolve(recipe, data.name, **overrides)


def maskable_weights(model: nn.Module, options: Mapping[str, Any]):
    from sparsegraph.pruning.maskable import resolve_maskable

    return resolve_maskable(model, dense_first_layer=options["dense_first_layer"],
                            dense_classifier=options["dense_classifier"], exclude=options["exclude"],
                            input_shape=options["input_shape"] or getattr(model, "input_shape", None))


def working_copy(model: nn.Module) -> nn.Module:
    """A copy to train (the caller's model is never modified), with no stale gradients."""
    work = copy.deepcopy(model)
    for p in work.parameters():
        p.grad = None
    return work


def iters_per_epoch(data, recipe) -> int:
    return max(1, -(-len(data.train) // recipe.batch_size))
