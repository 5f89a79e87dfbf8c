"""PAGS compare-merge rules, the best-so-far state and rebalancing (spec pruning §3 "Score and merge").

Layer-wise rules (a candidate's layer l replaces the best's layer l iff ...):

* ``imdb``: IMDB_l(cand) ≥ IMDB_l(best) **and** FS_l(cand) ≥ FS_l(best) (FS = ``spectral.full_spectrum``);
* ``delta_r``: Δr_l(cand) < Δr_l(best) strictly **and** FS_l(cand) ≥ FS_l(best);
* ``single``: the score is better or equal in its ``higher_is_better`` direction.

Undefined values (None) are worst: they never replace a defined value, and two undefined values tie.
``merge="whole"`` keeps the whole mask whose network score is strictly better, so the earliest best wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from sparsegraph.metrics.aggregation import aggregate_results
from sparsegraph.metrics.info import MetricResult
from sparsegraph.pruning.counts import allocate
from sparsegraph.pruning.samplers.scoring import DELTA_R, IMDB, CandidateScore, ScoreSpec
from sparsegraph.pruning.topk import topk_mask

Values = Mapping[str, float | None]


def at_least(cand: float | None, best: float | None, higher_is_better: bool = True) -> bool:
    """cand is better than or equal to best in the given direction; None is worst, None ties None."""
    if cand is None:
        return best is None
    if best is None:
        return True
    return cand >= best if higher_is_better else cand <= best


def strictly_better(cand: float | None, best: float | None, higher_is_better: bool = True) -> bool:
    """cand is strictly better than best; None is worst (never better, and beaten by any value)."""
    if cand is None:
        return False
    if best is None:
        return True
    return cand > best if higher_is_better else cand < best


def layer_replaces(spec: ScoreSpec, cand: Values, best: Values) -> bool:
    """Whether a candidate layer with values ``cand`` replaces the best layer with values ``best``."""
    if spec.rule == "imdb":
        return at_least(cand[IMDB], best[IMDB]) and at_least(cand[spec.score], best[spec.score])
    if spec.rule == "delta_r":
        return (strictly_better(cand[DELTA_R], best[DELTA_R], higher_is_better=False)
                and at_least(cand[spec.score], best[spec.score]))
    return at_least(cand[spec.score], best[spec.score], spec.higher_is_better)


@dataclass
class BestState:
    """The best mask found so far, per layer with its provenance.

    Attributes:
        masks: parameter name -> boolean mask (CPU).
        values: parameter name -> {metric: value} of the stored layer (layer-scope scores).
        source: parameter name -> index of the sample the layer came from.
        source_scores: parameter name -> the base generator's flat scores of that sample (for rebalancing).
        network: the best's network score.
        explored: parameter name -> union of every sample's mask.
        j: the last merged sample.
        changed: the best changed since the last snapshot.
        base_network: the network score of sample 0 (the base mask).
    """

    masks: dict[str, torch.Tensor]
    values: dict[str, dict[str, float | None]]
    source: dict[str, int]
    source_scores: dict[str, torch.Tensor]
    network: float | None
    explored: dict[str, torch.Tensor]
    j: int = 0
    changed: bool = True
    base_network: float | None = None

    @classmethod
    def first(cls, masks: Mapping[str, torch.Tensor], score: CandidateScore,
              scores: Mapping[str, torch.Tensor]) -> "BestState":
        """Sample 0: the initial best."""
        names = list(masks)
        return cls(masks={n: masks[n].clone() for n in names},
                   values={n: dict(score.layers.get(n, {})) for n in names},
                   source={n: 0 for n in names},
                   source_scores={n: _flat_scores(scores, n, masks[n]) for n in names},
                   network=score.network, explored={n: masks[n].clone() for n in names}, j=0, changed=True,
                   base_network=score.network)

    @property
    def kept(self) -> int:
        return int(sum(int(m.sum()) for m in self.masks.values()))

    def explored_fraction(self) -> float:
        total = sum(m.numel() for m in self.explored.values())
        return float(sum(int(m.sum()) for m in self.explored.values())) / total

    def merge(self, j: int, masks: Mapping[str, torch.Tensor], score: CandidateScore,
              scores: Mapping[str, torch.Tensor], spec: ScoreSpec) -> list[str]:
        """Compare-merge sample ``j`` into the best; returns the replaced layers (MaskSet order)."""
        for n, m in masks.items():
            self.explored[n] |= m
        self.j = j
        if spec.merge == "whole":
            if not strictly_better(score.network, self.network, spec.higher_is_better):
                return []
            replaced = list(self.masks)
        else:
            replaced = [n for n in self.masks if layer_replaces(spec, score.layers[n], self.values[n])]
        for n in replaced:
            self.masks[n] = masks[n].clone()
            self.values[n] = dict(score.layers.get(n, {}))
            self.source[n] = j
            self.source_scores[n] = _flat_scores(scores, n, masks[n])
        if replaced:
            self.network = score.network if spec.merge == "whole" else self.layer_network(spec)
            self.changed = True
        return replaced

    def layer_network(self, spec: ScoreSpec) -> float | None:
        """The network score of a layer-wise merged best: the score's own aggregate over stored layers."""
        results = [MetricResult(v[spec.score]) for v in self.values.values()]
        network = aggregate_results(spec.aggregate, results)
        return None if network is None else network.value

    def to_state(self) -> dict:
        """Plain tensors and numbers for ``torch.save`` (loadable with ``weights_only=True``)."""
        return {"masks": self.masks, "values": self.values, "source": self.source,
                "source_scores": self.source_scores, "network": self.network, "explored": self.explored,
                "j": self.j, "changed": self.changed, "base_network": self.base_network}

    @classmethod
    def from_state(cls, state: Mapping) -> "BestState":
        return cls(masks=dict(state["masks"]), values={k: dict(v) for k, v in state["values"].items()},
                   source=dict(state["source"]), source_scores=dict(state["source_scores"]),
                   network=state["network"], explored=dict(state["explored"]), j=int(state["j"]),
                   changed=bool(state["changed"]), base_network=state.get("base_network"))


def _flat_scores(scores: Mapping[str, torch.Tensor] | None, name: str, mask: torch.Tensor) -> torch.Tensor:
    """The base's flat CPU float64 scores of one layer; a generator without scores ranks by the mask."""
    if scores is None or name not in scores:
        return mask.reshape(-1).to(torch.float64)
    return scores[name].detach().to("cpu", torch.float64).reshape(-1).clone()


def rebalance(best: BestState, total: int, generator: torch.Generator, tie_break: str = "random"
              ) -> dict[str, torch.Tensor]:
    """Restore exactly ``total`` kept weights (the internal best is not modified).

    Per-layer targets t_l = K·k_l/Σk (proportional to the current counts) become integers by the
    largest-remainder allocation (§1.2). A layer above its count drops the kept entries with the lowest
    source score; a layer below adds the unkept entries with the highest (ties per §1.3).
    """
    names = list(best.masks)
    counts = np.array([int(best.masks[n].sum()) for n in names], dtype=np.int64)
    sizes = np.array([best.masks[n].numel() for n in names], dtype=np.int64)
    targets = float(total) * counts.astype(np.float64) / float(counts.sum())
    new_counts = allocate(np.minimum(targets, sizes), sizes, total, 0)
    out = {}
    for n, k_old, k_new in zip(names, counts, new_counts):
        mask = best.masks[n]
        flat = mask.reshape(-1)
        scores = best.source_scores[n]
        if k_new == k_old:
            out[n] = mask.clone()
            continue
        if k_new < k_old:  # drop the lowest-scored kept entries: top-k among the kept
            ranked = torch.where(flat, scores, torch.tensor(float("-inf"), dtype=torch.float64))
        else:  # keep every kept entry (+inf) and add the highest-scored unkept ones
            ranked = torch.where(flat, torch.tensor(float("inf"), dtype=torch.float64), scores)
        out[n] = topk_mask(ranked, int(k_new), tie_break=tie_break, generator=generator).reshape(mask.shape)
    return out
