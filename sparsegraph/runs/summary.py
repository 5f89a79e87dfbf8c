"""``summary.json`` of a prune run, written and read by one class: :class:`RunSummary`.

The file keeps its flat layout (``sparsegraph.summary/1``, interfaces.md); the class groups the fields
(training outcome, PAGS/PEGS outcome) and is also a read-only mapping over the file's keys, so
``summary["test_final"]`` and ``summary.training.test_final`` are the same value.

Example:
    >>> s = RunSummary(model="mlp", dataset="digits", method="random", target_density=0.1, masked_density=0.1,
    ...                overall_density=0.1, nonzero_weights=10, layer_densities={"fc.weight": 0.1},
    ...                mask_fingerprint="abc", seed=0, timings={"total": 1.0}, sparsegraph_version="0",
    ...                torch_version="2")
    >>> RunSummary.from_dict(s.to_dict()) == s, s["method"], "test_final" in s
    (True, 'random', False)
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from sparsegraph.errors import BadInputError
from sparsegraph.pruning.outcomes import SamplerOutcome
from sparsegraph.utils.atomic import atomic_write_text
from sparsegraph.utils.progress import format_duration

FORMAT = "sparsegraph.summary/1"
FILENAME = "summary.json"
# summary.json keys of the PAGS/PEGS outcome
# what a method or option adds to the summary, stored as its own key (in this order)
_REPORTS = ("dst", "tracking", "snapshots", "npb")
_GROUPS = ("training", "sampler", *_REPORTS)
_SAMPLER_KEYS = {"base": "base", "pags_base_score": "base_score", "pags_score": "score",
                 "pags_samples": "samples", "pags_rebalanced": "rebalanced", "pags_kept": "kept",
                 "pags_target_kept": "target_kept", "pags_rebalanced_score": "rebalanced_score"}


@dataclass(frozen=True)
class TrainingOutcome:
    """The sparse training's result (absent with ``epochs=0``)."""

    test_at_best_val: float | None
    test_final: float | None
    best_val: float | None
    best_epoch: int | None
    test_best_epoch: float | None
    test_best_epoch_selected_on_test: bool  # always True: that accuracy is selected on the test set
    epochs: int
    device: str

    @classmethod
    def from_train_result(cls, trained: Any) -> "TrainingOutcome":
        """From :func:`sparsegraph.training.train`'s result."""
        return cls(test_at_best_val=trained.test_at_best_val, test_final=trained.test_final,
                   best_val=trained.best_val, best_epoch=trained.best_epoch, test_best_epoch=trained.test_best_epoch,
                   test_best_epoch_selected_on_test=True, epochs=trained.epochs, device=trained.device)


@dataclass(frozen=True)
class RunSummary(Mapping):
    """What a prune run produced (``RUN_DIR/summary.json``).

    Attributes:
        model, dataset, method: what ran.
        target_density: the requested density; masked_density: the kept fraction of the maskable weights;
            overall_density: of every conv/linear weight (unmasked ones count as dense).
        nonzero_weights: nonzero conv/linear weights after masking.
        layer_densities: parameter name -> kept fraction.
        mask_fingerprint: the final mask's fingerprint.
        seed: the run seed.
        timings: seconds per phase (``scoring``, ``metrics``, ``training``, ``total`` ...).
        sparsegraph_version, torch_version: the versions that produced it.
        training: the training outcome, or None when nothing was trained.
        sampler: the PAGS/PEGS outcome (``pags_*`` keys in the file), or None.
        snapshots: with ``train_snapshots``, the snapshot masks' trained accuracies and statistics.
        npb: for ``npb``, its report (``NpbReport.to_dict()``: options, objective per layer, solver time).
        dst: for ``set`` / ``rigl``, the ``DSTSummary`` (mask updates, schedule, ITOP rate).
        tracking: with ``track``, the tracking summary (steps in ``track.csv``, the final values).
    """

    model: str
    dataset: str
    method: str
    target_density: float
    masked_density: float
    overall_density: float | None
    nonzero_weights: int
    layer_densities: dict[str, float]
    mask_fingerprint: str
    seed: int
    timings: dict[str, float]
    sparsegraph_version: str
    torch_version: str
    training: TrainingOutcome | None = None
    sampler: SamplerOutcome | None = None
    snapshots: dict[str, Any] | None = None
    npb: dict[str, Any] | None = None
    dst: dict[str, Any] | None = None
    tracking: dict[str, Any] | None = None

    # ------------------------------------------------------------------------------------- the file
    def to_dict(self) -> dict[str, Any]:
        """The ``summary.json`` document (flat keys, as interfaces.md lists them)."""
        out: dict[str, Any] = {"format": FORMAT}
        out.update({f.name: getattr(self, f.name) for f in fields(self) if f.name not in _GROUPS})
        out["timings"] = {k: round(v, 4) for k, v in self.timings.items()}
        if self.training is not None:
            out.update(asdict(self.training))
        out.update({key: getattr(self, key) for key in _REPORTS if getattr(self, key) is not None})
        if self.sampler is not None:
            values = asdict(self.sampler)
            out.update({key: values[attr] for key, attr in _SAMPLER_KEYS.items()
                        if attr != "rebalanced_score" or values[attr] is not None})
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "RunSummary":
        """The inverse of :meth:`to_dict` (missing optional keys read as None)."""
        if d.get("format", FORMAT) != FORMAT:
            raise BadInputError(f"not a {FORMAT} document (format {d.get('format')!r})")
        base = {f.name: d.get(f.name) for f in fields(cls) if f.name not in _GROUPS}
        base["timings"] = dict(d.get("timings") or {})
        base["layer_densities"] = dict(d.get("layer_densities") or {})
        training = None
        if "epochs" in d:
            training = TrainingOutcome(**{f.name: d.get(f.name) for f in fields(TrainingOutcome)})
        sampler = None
        if "pags_score" in d:
            sampler = SamplerOutcome(**{attr: d[key] for key, attr in _SAMPLER_KEYS.items() if key in d})
        return cls(**base, training=training, sampler=sampler, **{key: d.get(key) for key in _REPORTS})

    def write(self, run_dir: str | os.PathLike) -> Path:
        """Write ``RUN_DIR/summary.json`` atomically; returns its path."""
        path = Path(run_dir) / FILENAME
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    @classmethod
    def read(cls, run_dir: str | os.PathLike) -> "RunSummary":
        """Read ``RUN_DIR/summary.json`` (or the file itself).

        Raises:
            BadInputError: missing, unreadable or not a summary document (one line naming the file).
        """
        path = Path(run_dir)
        path = path / FILENAME if path.is_dir() else path
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            raise BadInputError(f"{path}: no such file") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadInputError(f"{path}: unreadable summary ({exc})") from None
        if not isinstance(doc, dict):
            raise BadInputError(f"{path}: not a JSON object")
        try:
            return cls.from_dict(doc)
        except (TypeError, BadInputError) as exc:
            raise BadInputError(f"{path}: {exc}") from None

    # ------------------------------------------------------------------------- the mapping protocol
    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())

    # -------------------------------------------------------------------------------------- display
    def describe(self, run_dir: str | os.PathLike) -> str:
        """The lines ``sparsegraph prune`` prints for people."""
        lines = [
            f"run directory     {run_dir}",
            f"method            {self.method} (seed {self.seed})",
            f"density           {self.masked_density:.6g} of maskable weights "
            f"({self.overall_density:.6g} of all conv/linear weights)",
            f"mask fingerprint  {self.mask_fingerprint}",
        ]
        if self.sampler is not None and self.sampler.score is not None:
            base = "n/a" if self.sampler.base_score is None else f"{self.sampler.base_score:.6g}"
            lines.append(f"PAGS score        {self.sampler.score:.6g} (base {base})")
            target = "?" if self.sampler.target_kept is None else f"{self.sampler.target_kept:,}"
            if self.sampler.rebalanced_score is not None:
                lines.append(f"rebalanced score  {self.sampler.rebalanced_score:.6g} (exactly K = {target} weights)")
            elif self.sampler.kept is not None:
                lines.append(f"kept weights      {self.sampler.kept:,} (K = {target}: --no-rebalance keeps the "
                             "authors' layer-wise merge)")
        if self.npb is not None:
            lines.append(f"NPB objective     {self.npb['objective']:.6g} (sum over {len(self.npb['layers'])} "
                         f"layers; {self.npb['solves']} MILPs, {self.npb['solver_seconds']:.2f} s in the solver)")
        if self.dst is not None:
            lines.append(f"mask updates      {self.dst['updates']} every {self.dst['interval']} steps "
                         f"(ζ0 {self.dst['fraction']:g}, {self.dst['schedule']}, stop {self.dst['stop']:g}); "
                         f"ITOP rate {self.dst['itop_rate']:.4f}")
        if self.tracking is not None:
            shown = ", ".join(f"{k} {v:.4g}" for k, v in self.tracking["final"].items() if v is not None)
            lines.append(f"tracked           {self.tracking['steps']} steps in track.csv; at step "
                         f"{self.tracking['final_step']}: {shown}")
        if self.training is not None:
            if self.training.test_at_best_val is not None:
                lines.append(f"test accuracy     {self.training.test_at_best_val:.4f} "
                             f"(at best val epoch {self.training.best_epoch})")
            lines.append(f"final test acc    {self.training.test_final:.4f} after {self.training.epochs} epochs")
        lines.append(f"time              {_timings_line(self.to_dict()['timings'])}")
        return "\n".join(lines) + "\n"


def _timings_line(timings: dict[str, float]) -> str:
    """``34.8 s in all (scoring 24.2 s, prune sampling 9.6 s, ...)``: the human form of ``timings``."""
    parts = [f"{name.replace('_', ' ')} {format_duration(seconds)}" for name, seconds in timings.items()
             if name != "total"]
    head = f"{format_duration(timings['total'])} in all" if "total" in timings else ""
    return head + (f" ({', '.join(parts)})" if parts else "") if head else ", ".join(parts)
