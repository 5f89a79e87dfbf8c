"""Typed details that a meta-method adds to its :class:`~sparsegraph.pruning.api.PruneResult`.

They travel with the mask: :meth:`SamplerOutcome.to_metadata` goes into the ``MaskSet`` metadata (key
``pags``), so a resumed run reads them back from ``masks.safetensors`` instead of re-parsing its log.

Example:
    >>> outcome = SamplerOutcome(base="snip", base_score=1.0, score=1.5, samples=20)
    >>> SamplerOutcome.from_metadata({"pags": outcome.to_metadata()}) == outcome
    True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

METADATA_KEY = "pags"


@dataclass(frozen=True)
class SamplerOutcome:
    """What a PAGS/PEGS search found.

    Attributes:
        base: the base generator sampled.
        base_score: the network score of sample 0 (the base mask itself).
        score: the network score of the merged best.
        samples: the index of the last sample (the population n).
        rebalanced_score: with ``rebalance``, the score of the exported mask (exactly K weights).
        drift: kept weights of the merged best minus K.
        rebalanced: the exported mask was rebalanced to exactly K weights.
        kept: the exported mask's kept weights.
        target_kept: K, the kept weights the density asks for.
        layers: per layer: ``layer``, the sample it came from (``source``), its ``density`` and values.
    """

    base: str
    base_score: float | None
    score: float | None
    samples: int
    rebalanced_score: float | None = None
    drift: int = 0
    layers: list[dict[str, Any]] = field(default_factory=list)
    rebalanced: bool = False
    kept: int | None = None
    target_kept: int | None = None

    def to_metadata(self) -> dict[str, Any]:
        """A JSON-ready dictionary (mask metadata)."""
        return asdict(self)

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> "SamplerOutcome | None":
        """The outcome stored in a mask's metadata, or None (not a PAGS/PEGS mask)."""
        stored = metadata.get(METADATA_KEY)
        if not isinstance(stored, Mapping):
            return None
        return cls(**{k: stored[k] for k in cls.__dataclass_fields__ if k in stored})
