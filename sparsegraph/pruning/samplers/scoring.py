"""How PAGS scores one candidate mask: registry metrics on the rolled encoding (spec pruning §3).

The score is any registered metric. Layer-scope metrics run on every masked layer's rolled bipartite
graph (edges from the mask, weights |θ ⊙ M|) through :func:`sparsegraph.metrics.measure`, which also
batches the shared spectral kernel; network- and graph-scope metrics run once on ``(model, masks)``.
The same function runs in the driver (``executor="serial"``) and in pool workers.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from sparsegraph.errors import MetricError, UsageError

DEFAULT_SCORE = "spectral.full_spectrum"
IMDB = "ramanujan.imdb"
DELTA_R = "ramanujan.delta_r"
RULES = ("imdb", "delta_r", "single")
MERGES = ("layer", "whole")
MERGE_ALIASES = {"layer": "layer", "layerwise": "layer", "layer-wise": "layer", "whole": "whole"}
# the seed paper's convention for its IMDB / full-spectrum rule
DEFAULT_CONVENTION = "neurips2023"


@dataclass(frozen=True)
class ScoreSpec:
    """What a candidate is scored with and how candidates are compared.

    Attributes:
        score: the registry metric whose network value is the candidate's score.
        rule: layer-wise rule ``imdb``, ``delta_r`` or ``single`` (ignored by ``merge="whole"``).
        merge: ``layer`` (compare-merge per layer) or ``whole`` (keep the best whole mask).
        higher_is_better: the score's direction, from the registry metadata.
        metrics: every metric the rule needs, the score first.
        convention: the convention passed to ``measure`` (None: each metric's default).
        options: extra metric options (e.g. ``solver``) passed to ``measure``.
        aggregate: the score's network rule (``valid_mean``, ``zero_mean``, ...) for layer merges.
        input_shape: the model's input shape (network/graph metrics, trace order).
    """

    score: str
    rule: str
    merge: str
    higher_is_better: bool
    metrics: tuple[str, ...]
    convention: str | None
    options: Mapping[str, Any] = field(default_factory=dict)
    aggregate: str = "valid_mean"
    input_shape: tuple[int, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "rule": self.rule, "merge": self.merge,
                "higher_is_better": self.higher_is_better, "metrics": list(self.metrics),
                "convention": self.convention, "options": dict(self.options), "aggregate": self.aggregate,
                "input_shape": None if self.input_shape is None else list(self.input_shape)}


DIRECTIONS = {"max": True, "min": False}


def resolve_score_spec(score: str = DEFAULT_SCORE, rule: str | None = None, merge: str = "layer",
                       convention: str | None = None, options: Mapping[str, Any] | None = None,
                       input_shape: tuple[int, ...] | None = None, direction: str | None = None) -> ScoreSpec:
    """Validate the score, rule and merge against the registry metadata.

    ``rule`` defaults to ``imdb`` for ``spectral.full_spectrum`` and ``single`` for other layer metrics.
    ``imdb`` and ``delta_r`` compare full-spectrum values, so they need ``score="spectral.full_spectrum"``.
    Network- and graph-scope metrics need ``merge="whole"``; a metric without a direction
    (``higher_is_better`` None) needs ``direction`` (``max`` or ``min``), which otherwise defaults to the
    registry's direction and may override it.

    Raises:
        UnknownMetricError: ``score`` is not registered.
        UsageError: an invalid combination.
    """
    from sparsegraph.metrics.registry import get_info

    merge_name = MERGE_ALIASES.get(str(merge))
    if merge_name is None:
        raise UsageError(f"merge must be one of layer (alias layerwise) or whole, got {merge!r}")
    info = get_info(score)
    if direction is not None and direction not in DIRECTIONS:
        raise UsageError(f"direction must be 'max' or 'min', got {direction!r}")
    higher = DIRECTIONS[direction] if direction is not None else info.higher_is_better
    if higher is None:
        raise UsageError(f"score {score!r} has no direction in the registry (higher_is_better is None); "
                         "say which way to optimise it with direction='max' or 'min' (CLI --score-direction)")
    if info.scope != "layer" and merge_name == "layer":
        raise UsageError(f"score {score!r} is a {info.scope}-scope metric: it needs merge='whole'")
    if rule is None:
        rule = "imdb" if score == DEFAULT_SCORE else "single"
    if rule not in RULES:
        raise UsageError(f"rule must be one of {', '.join(RULES)}, got {rule!r}")
    if rule in ("imdb", "delta_r") and score != DEFAULT_SCORE:
        raise UsageError(f"rule={rule!r} compares {DEFAULT_SCORE} values: use score={DEFAULT_SCORE!r} "
                         "or rule='single'")
    metrics: tuple[str, ...] = (score,)
    if merge_name == "layer" and rule == "imdb":
        metrics = (score, IMDB)
    elif merge_name == "layer" and rule == "delta_r":
        metrics = (score, DELTA_R)
    if convention is None and all(m.split(".")[0] in ("ramanujan", "spectral") for m in metrics):
        convention = DEFAULT_CONVENTION
    aggregate = info.aggregate_for(convention if convention in info.conventions else None)
    if rule in ("imdb", "delta_r") and direction is not None and not higher:
        raise UsageError(f"rule={rule!r} maximises {DEFAULT_SCORE}; direction='min' needs rule='single'")
    return ScoreSpec(score=score, rule=rule, merge=merge_name, higher_is_better=bool(higher),
                     metrics=metrics, convention=convention, options=dict(options or {}),
                     aggregate=aggregate, input_shape=None if input_shape is None else tuple(input_shape))


@dataclass
class CandidateScore:
    """The metric values of one candidate mask.

    Attributes:
        network: the score's network value (None: undefined).
        layers: parameter name -> {metric: value or None}, for layer-scope scores.
        seconds: time spent computing the metrics.
    """

    network: float | None
    layers: dict[str, dict[str, float | None]]
    seconds: float = 0.0


def layer_module(param: str) -> str:
    """The module name of a maskable weight (``layer1.0.conv1.weight`` -> ``layer1.0.conv1``)."""
    return param[: -len(".weight")] if param.endswith(".weight") else param


def score_masks(model: nn.Module, masks: Mapping[str, torch.Tensor], spec: ScoreSpec) -> CandidateScore:
    """Score ``masks`` on ``model``'s weights with ``spec``'s metrics through the registry."""
    import warnings

    from sparsegraph.masks import MaskSet
    from sparsegraph.metrics import measure

    start = time.perf_counter()
    names = list(masks)
    include = None
    if any(get_scope(m) == "layer" for m in spec.metrics):
        include = ["re:" + re.escape(layer_module(n)) for n in names]
    with warnings.catch_warnings():
        # measure's notes about trace order are irrelevant to per-layer values
        warnings.simplefilter("ignore")
        result = measure(model, MaskSet.from_dict(dict(masks)), list(spec.metrics), input_shape=spec.input_shape,
                         include=include, convention=spec.convention, **dict(spec.options))
    layers: dict[str, dict[str, float | None]] = {n: {} for n in names}
    network: float | None = None
    for row in result.rows:
        if row["status"] == "error":
            where = "the network" if row["layer"] is None else f"layer {row['layer']}"
            raise MetricError(f"PAGS score: {row['metric']} failed on {where}: {row.get('message', '')}")
        if row["layer"] is None:
            if row["metric"] == spec.score:
                network = row["value"]
            continue
        param = row["layer"] + ".weight"
        if param in layers:
            layers[param][row["metric"]] = row["value"]
    return CandidateScore(network=network, layers=layers, seconds=time.perf_counter() - start)


def get_scope(metric: str) -> str:
    from sparsegraph.metrics.registry import get_info

    return get_info(metric).scope
