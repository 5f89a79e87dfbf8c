"""The result of ``sg.measure``: its rows, the failures among them, and their JSON, CSV and table forms.

interfaces.md "measure JSON". Rendering goes through the one tabular writer
(:mod:`sparsegraph.utils.tabular`), so the CLI only chooses a format.

Example:
    >>> result = MeasureResult(model="net", masks=None, options={}, layers=["fc"], rows=[
    ...     {"scope": "layer", "layer": "fc", "metric": "density", "value": 0.5, "status": "ok"},
    ...     {"scope": "layer", "layer": "fc", "metric": "spectral.mu0", "value": None, "status": "error",
    ...      "message": "non-finite weights in layer fc"}])
    >>> [f.describe() for f in result.failures()]
    ['spectral.mu0 on fc: non-finite weights in layer fc']
    >>> print(result.to_table(layout="long"), end="")
    metric        layer  value
    ------------  -----  -----
    density       fc     0.5
    spectral.mu0  fc     ERROR
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sparsegraph.errors import UnknownNameError, UsageError
from sparsegraph.metrics.info import MetricResult
from sparsegraph.utils.tabular import render_csv, render_json, render_jsonl, render_table

FORMAT = "sparsegraph.measure/1"
CSV_COLUMNS = ("scope", "layer", "metric", "value", "status")
NETWORK_LABEL = "(network)"
TABLE_LAYOUTS = ("auto", "wide", "long")
#: ``layout="auto"`` prints the layer x metric grid while its lines fit in this many characters.
WIDE_TABLE_MAX_WIDTH = 100


@dataclass(frozen=True)
class Failure:
    """One distinct failure reason and the cells (metric, layer or None for the network) it hit."""

    message: str
    cells: tuple[tuple[str, str | None], ...]

    def describe(self, max_layers: int = 3) -> str:
        """One line: ``metric on layer, layer and N more; metric on (network): message``."""
        by_metric: dict[str, list[str]] = {}
        for metric, layer in self.cells:
            by_metric.setdefault(metric, []).append(NETWORK_LABEL if layer is None else layer)
        parts = []
        for metric, layers in by_metric.items():
            shown = ", ".join(layers[:max_layers])
            more = f" and {len(layers) - max_layers} more" if len(layers) > max_layers else ""
            parts.append(f"{metric} on {shown}{more}")
        return f"{'; '.join(parts)}: {self.message}"


@dataclass
class MeasureResult:
    """The rows of one ``measure`` call and what produced them.

    Attributes:
        model: the model SPEC, or ``module:Class`` for a model object.
        masks: ``{"path", "fingerprint", "density"}`` of the masks, or None for a dense model.
        options: the options that were applied (conventions resolved per family).
        layers: the selected layer names, in measuring order.
        rows: one dict per (layer, metric) and per network value, as in the measure JSON schema:
            ``scope``, ``layer``, ``metric``, ``value``, ``status``; plus ``reason`` (undefined),
            ``message`` (error), and ``n_layers``/``n_defined`` on network rows.
        notes: remarks about how the run was done (e.g. the layer order used).
        details: ``(metric, layer or None)`` -> the full :class:`MetricResult` (``extras`` included).
    """

    model: str
    masks: dict[str, Any] | None
    options: dict[str, Any]
    layers: list[str]
    rows: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    details: dict[tuple[str, str | None], MetricResult] = field(default_factory=dict, repr=False)

    def value(self, metric: str, layer: str | None = None) -> float | None:
        """The value of ``metric`` on ``layer`` (None: the network row)."""
        for row in self.rows:
            if row["metric"] == metric and row["layer"] == layer:
                return row["value"]
        raise UnknownNameError(f"no row for metric {metric!r} and layer {layer!r}")

    def failures(self) -> list[Failure]:
        """The ``error`` rows grouped by message, in order of first appearance."""
        grouped: dict[str, list[tuple[str, str | None]]] = {}
        for row in self.rows:
            if row["status"] == "error":
                grouped.setdefault(row.get("message") or "failed", []).append((row["metric"], row["layer"]))
        return [Failure(message, tuple(cells)) for message, cells in grouped.items()]

    def to_dict(self) -> dict[str, Any]:
        """The measure JSON document as a dictionary."""
        return {"format": FORMAT, "model": self.model, "masks": self.masks, "options": self.options,
                "notes": list(self.notes), "rows": [dict(r) for r in self.rows]}

    def to_json(self, indent: int | None = 2) -> str:
        """The measure JSON document (``sparsegraph.measure/1``), with a trailing newline."""
        return render_json(self.to_dict(), indent=indent, allow_nan=False)

    def to_jsonl(self) -> str:
        """One row object per line."""
        return render_jsonl(self.rows)

    def to_csv(self) -> str:
        """CSV with the columns ``scope,layer,metric,value,status`` (empty cells for null)."""
        return render_csv(self.rows, CSV_COLUMNS)

    def to_frame(self):
        """The rows as a ``pandas.DataFrame`` (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError("MeasureResult.to_frame() needs pandas: pip install pandas") from exc
        return pd.DataFrame.from_records(self.rows, columns=[*CSV_COLUMNS, "reason", "message", "n_layers",
                                                            "n_defined"])

    def to_grid(self) -> tuple[list[str], list[dict[str, Any]]]:
        """A layer x metric grid for people: ``(columns, rows)``.

        One row per layer and a last ``(network)`` row; a cell holds the value, ``undef`` or ``ERROR``,
        and None where the metric has no row for that layer.
        """
        metrics = list(dict.fromkeys(r["metric"] for r in self.rows))
        names = list(self.layers)
        names += [r["layer"] for r in self.rows if r["layer"] is not None and r["layer"] not in names]
        cells: dict[str | None, dict[str, Any]] = {name: {"layer": name} for name in [*names, None]}
        for row in self.rows:
            cells[row["layer"]][row["metric"]] = _shown(row)
        cells[None]["layer"] = NETWORK_LABEL
        grid = [cells[name] for name in names]
        if any(r["layer"] is None for r in self.rows):
            grid.append(cells[None])
        return ["layer", *metrics], grid

    def to_long(self) -> tuple[list[str], list[dict[str, Any]]]:
        """One row per (metric, layer) for people: ``(["metric", "layer", "value"], rows)``, metric by metric,
        each metric's network value last (layer ``(network)``)."""
        order = {metric: i for i, metric in enumerate(dict.fromkeys(r["metric"] for r in self.rows))}
        rows = sorted(self.rows, key=lambda r: (order[r["metric"]], r["layer"] is None))
        return ["metric", "layer", "value"], [
            {"metric": r["metric"], "layer": NETWORK_LABEL if r["layer"] is None else r["layer"], "value": _shown(r)}
            for r in rows]

    def to_table(self, layout: str = "auto") -> str:
        """The plain-text table: ``wide`` (:meth:`to_grid`), ``long`` (:meth:`to_long`), or ``auto``: wide
        while its lines fit in :data:`WIDE_TABLE_MAX_WIDTH` characters, else long."""
        if layout not in TABLE_LAYOUTS:
            raise UsageError(f"table layout {layout!r} is not valid; expected one of: {', '.join(TABLE_LAYOUTS)}")
        if layout != "long":
            wide = render_table(*reversed(self.to_grid()))
            if layout == "wide" or max(map(len, wide.splitlines())) <= WIDE_TABLE_MAX_WIDTH:
                return wide
        return render_table(*reversed(self.to_long()))


def _shown(row: dict[str, Any]) -> Any:
    if row["status"] == "ok":
        return row["value"]
    return "undef" if row["status"] == "undefined" else "ERROR"
