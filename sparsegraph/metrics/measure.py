"""``sg.measure``: every requested metric on every selected layer of a model, plus network rows.

metrics.md §4 and interfaces.md "measure JSON". Layer-scope metrics run on the rolled bipartite graph
of each selected layer (``sg.bipartite(mask, weight=param, name=layer)``); network-scope metrics run
once on ``(model, masks)`` and report their own per-layer values; graph-scope metrics run on the
multipartite graph (``sg.encode(..., encoding="mge")``), or layer-wise with ``topo_encoding``.
A failure in one metric or layer gives an ``error`` row and ``measure`` goes on.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import torch
from torch import nn

from sparsegraph.errors import BadInputError, MemoryLimitError, MetricError, SparsegraphError, UsageError
from sparsegraph.metrics.aggregation import aggregate_results
from sparsegraph.metrics.cache import current_cache, metric_cache
from sparsegraph.metrics.info import MetricInfo, MetricResult, jsonable
from sparsegraph.metrics.registry import as_result, compute_detailed, get_preparer, resolve, resolve_options
from sparsegraph.utils.memory import with_memory_limit

FORMAT = "sparsegraph.measure/1"
CSV_COLUMNS = ("scope", "layer", "metric", "value", "status")
_AGGREGATE_CHOICES = ("auto", "valid_mean", "zero_mean", "mean", "none")
_TOPO_ENCODINGS = ("mge", "rolled", "rolled-channel", "unrolled")
# families whose convention is recorded as options.convention; any other as options.<family>_convention
_SHARED_CONVENTION_FAMILIES = ("ramanujan", "spectral")
_CONVENTION_KWARG = re.compile(r"^([a-z][a-z0-9_]*)_convention$")


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
        raise KeyError(f"no row for metric {metric!r} and layer {layer!r}")

    def to_dict(self) -> dict[str, Any]:
        """The measure JSON document as a dictionary."""
        return {"format": FORMAT, "model": self.model, "masks": self.masks, "options": self.options,
                "notes": list(self.notes), "rows": [dict(r) for r in self.rows]}

    def to_json(self, indent: int | None = 2) -> str:
        """The measure JSON document (``sparsegraph.measure/1``), with a trailing newline."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False) + "\n"

    def to_jsonl(self) -> str:
        """One row object per line."""
        return "".join(json.dumps(row, allow_nan=False) + "\n" for row in self.rows)

    def to_csv(self) -> str:
        """CSV with the columns ``scope,layer,metric,value,status`` (empty cells for null)."""
        import csv
        import io

        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in self.rows:
            writer.writerow({c: "" if row.get(c) is None else row[c] for c in CSV_COLUMNS})
        return buf.getvalue()

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
            shown = row["value"] if row["status"] == "ok" else ("undef" if row["status"] == "undefined" else "ERROR")
            cells[row["layer"]][row["metric"]] = shown
        cells[None]["layer"] = "(network)"
        grid = [cells[name] for name in names]
        if any(r["layer"] is None for r in self.rows):
            grid.append(cells[None])
        return ["layer", *metrics], grid


@with_memory_limit
def measure(model: nn.Module | str, masks: Mapping[str, torch.Tensor] | str | os.PathLike | None,
            metrics: str | Iterable[str], input_shape: Iterable[int] | None = None, *,
            include: Iterable[str] | None = None, exclude: Iterable[str] | None = None,
            convention: str | Mapping[str, str] | None = None, aggregate: str = "auto",
            topo_encoding: str = "mge", device: str | torch.device | None = None, model_spec: str | None = None,
            masks_path: str | os.PathLike | None = None, max_bytes: int | str | None = None,
            **options: Any) -> MeasureResult:
    """Measure a (pruned) model with registry metrics.

    Args:
        model: an ``nn.Module`` or a model SPEC (zoo name, ``torchvision:<name>``, ``file.py:callable``).
        masks: a ``MaskSet`` (or a mapping parameter name -> bool mask, or a mask file path), checked
            against the model; or None (dense, with a warning). A selected layer without a mask is dense.
        metrics: metric and family names (a list or a comma-separated string).
        input_shape: ``(C, H, W)``; needed by network- and graph-scope metrics, and for the trace order.
            Defaults to the model's ``input_shape`` attribute (zoo and torchvision models carry one).
        include, exclude: fnmatch patterns, or ``re:`` regexes (full match), on layer names.
        convention: a bare value, routed to every selected family that accepts it (``iclr2023`` goes to
            ``ramanujan`` and ``spectral``), ``"family=value,family=value"``, or a mapping family -> value.
            ``<family>_convention=value`` keywords work too (``paths_convention="npb2023"``).
        aggregate: ``auto`` (each metric's rule for its convention), or ``valid_mean``, ``zero_mean``,
            ``mean``, ``none`` for every layer-scope metric.
        topo_encoding: graph-scope metrics run on the ``mge`` graph (one network row), or layer-wise on
            ``rolled``, ``rolled-channel`` or ``unrolled`` layer graphs (layer rows, no network row).
        device: where metrics that take a ``device`` option compute (None: each metric's default); the
            others ignore it.
        model_spec: the SPEC to record when ``model`` is an object.
        masks_path: the file ``masks`` came from, to record when ``masks`` is a mapping.
        max_bytes: the memory limit of every estimate checked on the way (traces, encodings, path
            passes; default ``SPARSEGRAPH_MAX_BYTES`` or 4 GiB). Work above it is refused before
            anything is allocated: :class:`~sparsegraph.errors.MemoryLimitError` ends the call
            instead of giving an error row.
        **options: metric options, each passed to the selected metrics that declare it
            (e.g. ``solver="dense"``, ``device="cuda"``).

    Returns:
        A :class:`MeasureResult`.

    Raises:
        UnknownMetricError: an unknown metric or family name.
        ValueError: an option or convention no selected metric accepts, or an include pattern that
            matches no layer.
        MemoryLimitError: a metric's work is estimated above ``max_bytes``.
    """
    if aggregate not in _AGGREGATE_CHOICES:
        raise UsageError(f"aggregate {aggregate!r} is not valid; expected one of: {', '.join(_AGGREGATE_CHOICES)}")
    if topo_encoding not in _TOPO_ENCODINGS:
        raise UsageError(f"topo_encoding {topo_encoding!r} is not valid; expected one of: "
                         + ", ".join(_TOPO_ENCODINGS))
    infos = resolve(metrics)
    family_convention_kwargs = {_CONVENTION_KWARG.match(k).group(1): options.pop(k)
                                for k in list(options) if _CONVENTION_KWARG.match(k)}
    conventions = route_conventions(infos, convention, family_convention_kwargs)
    model, spec = _resolve_model(model, model_spec)
    if input_shape is None:  # zoo and torchvision models carry their default input shape
        input_shape = getattr(model, "input_shape", None)
    shape = tuple(int(s) for s in input_shape) if input_shape is not None else None
    metric_options = _route_options(infos, options, conventions, shape)
    if device is not None:
        for info in infos:
            if "device" in info.options:
                metric_options[info.name]["device"] = str(device)
    masks, masks_header = _resolve_masks(masks, model, masks_path)
    notes: list[str] = []
    layers = select_layers(model, shape, include, exclude, notes)

    run = _Run(model, masks, shape, layers, metric_options)
    forced = None if aggregate == "auto" else aggregate
    with metric_cache():
        run.prepare([i for i in infos if i.scope == "layer"])
        for info in infos:
            if info.scope == "layer":
                run.layer_metric(info, forced)
            elif info.scope == "network":
                run.network_metric(info)
            else:
                run.graph_metric(info, topo_encoding)

    recorded = _recorded_conventions(conventions)
    recorded.update({"aggregate": aggregate, "include": list(include or []), "exclude": list(exclude or []),
                     "input_shape": list(shape) if shape is not None else None})
    if any(i.scope == "graph" for i in infos):
        recorded["topo_encoding"] = topo_encoding
    if device is not None:
        recorded["device"] = str(device)
    recorded.update({k: jsonable(v) for k, v in options.items()})
    return MeasureResult(model=spec, masks=masks_header, options=recorded, layers=[n for n, _ in layers],
                         rows=run.rows, notes=notes, details=run.details)


# ----------------------------------------------------------------------------------------- conventions
def route_conventions(infos: list[MetricInfo], convention: str | Mapping[str, str] | None,
                      family_kwargs: Mapping[str, str] | None = None) -> dict[str, str]:
    """The convention of each selected family that has conventions (defaults filled in).

    A bare value goes to every selected family in which some metric accepts it; ``family=value`` pairs
    (comma-separated, or a mapping) go to their family. Every selected metric of a family must accept
    the family's value.

    Raises:
        ValueError: a value no selected family accepts, a family that is not selected or has no
            conventions, or a value that one of the family's metrics rejects.
    """
    families: dict[str, list[MetricInfo]] = {}
    for info in infos:
        if info.conventions:
            families.setdefault(info.family, []).append(info)
    explicit: dict[str, str] = {}
    bare: list[str] = []
    if isinstance(convention, Mapping):
        explicit.update(convention)
    elif convention is not None:
        for part in (p.strip() for p in str(convention).split(",")):
            if not part:
                continue
            if "=" in part:
                family, _, value = part.partition("=")
                explicit[family.strip()] = value.strip()
            else:
                bare.append(part)
    explicit.update(family_kwargs or {})
    chosen: dict[str, str] = {}
    for value in bare:
        accepting = [f for f, members in families.items() if any(value in m.conventions for m in members)]
        if not accepting:
            offered = sorted({c for members in families.values() for m in members for c in m.conventions})
            raise UsageError(f"convention {value!r} is not valid for any selected metric; expected one of: "
                             + (", ".join(offered) if offered else "(the selected metrics take no convention)"))
        for family in accepting:
            chosen[family] = value
    for family, value in explicit.items():
        if family not in families:
            raise UsageError(f"convention {family}={value}: no selected metric of family {family!r} takes a "
                             "convention")
        chosen[family] = value
    out = {}
    for family, members in families.items():
        value = chosen.get(family, members[0].conventions[0])
        for info in members:
            resolve_options(info, {"convention": value})  # raises the §1 ValueError
        out[family] = value
    return out


def _recorded_conventions(conventions: Mapping[str, str]) -> dict[str, Any]:
    """``options.convention`` for ramanujan/spectral (when they agree), ``options.<family>_convention`` else."""
    shared = {conventions[f] for f in _SHARED_CONVENTION_FAMILIES if f in conventions}
    recorded: dict[str, Any] = {}
    for family, value in conventions.items():
        key = "convention" if family in _SHARED_CONVENTION_FAMILIES and len(shared) == 1 else f"{family}_convention"
        recorded[key] = value
    return recorded


def _route_options(infos: list[MetricInfo], options: Mapping[str, Any], conventions: Mapping[str, str],
                   input_shape: Iterable[int] | None) -> dict[str, dict[str, Any]]:
    """The options given to each metric: the measure-level ones it declares, plus its convention."""
    declared = {key for info in infos for key in info.options}
    unknown = [key for key in options if key not in declared]
    if unknown:
        raise UsageError(f"option {unknown[0]!r} is not valid for any selected metric; they accept: "
                         + (", ".join(sorted(declared)) or "no options"))
    routed = {}
    for info in infos:
        mine = {k: v for k, v in options.items() if k in info.options}
        if info.family in conventions and info.conventions:
            mine["convention"] = conventions[info.family]
        if input_shape is not None and "input_shape" in info.options and "input_shape" not in mine:
            mine["input_shape"] = tuple(int(s) for s in input_shape)
        resolve_options(info, mine)
        routed[info.name] = mine
    return routed


# ------------------------------------------------------------------------------------ inputs and layers
def _resolve_model(model: nn.Module | str, model_spec: str | None) -> tuple[nn.Module, str]:
    if isinstance(model, str):
        from sparsegraph.models import load_model

        return load_model(model), model
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module or a model SPEC string, got {type(model).__name__}")
    cls = type(model)
    return model, model_spec or f"{cls.__module__}:{cls.__qualname__}"


def _resolve_masks(masks: Any, model: nn.Module, path: str | os.PathLike | None
                   ) -> tuple[Mapping[str, torch.Tensor] | None, dict[str, Any] | None]:
    """``masks`` as a ``MaskSet`` checked against ``model`` (a mask for another model, e.g. with a
    ``module.`` prefix, must never pass for dense layers), and the JSON header describing it."""
    from sparsegraph.masks import MaskSet

    if isinstance(masks, (str, os.PathLike)):
        masks = MaskSet.load(masks)
    if masks is None:
        warnings.warn("no masks given: measuring the dense model", stacklevel=4)
        return None, None
    if not isinstance(masks, Mapping):
        raise TypeError(f"masks must be a mapping parameter name -> mask (e.g. a MaskSet), a path or None, "
                        f"got {type(masks).__name__}")
    if not isinstance(masks, MaskSet):
        masks = MaskSet.from_dict(masks)
    masks.check_fits(model, source=None if path is None else os.fspath(path))
    if path is None:  # a MaskSet loaded from a file knows it
        path = masks.source
    header = {"path": None if path is None else os.fspath(path), "fingerprint": masks.fingerprint(),
              "density": float(masks.density)}
    return masks, header


def select_layers(model: nn.Module, input_shape: tuple[int, ...] | None, include: Iterable[str] | None,
                  exclude: Iterable[str] | None, notes: list[str]) -> list[tuple[str, nn.Module]]:
    """Every ``Conv2d`` and ``Linear`` of ``model`` in trace order, filtered by include/exclude.

    Without an input shape (or when the model cannot be traced), the module registration order is used
    and a note says so; the zoo models register their layers in forward order, so the two agree there.
    """
    modules = {name: m for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    order = _trace_order(model, input_shape, notes)
    names = [n for n in order if n in modules] if order is not None else list(modules)
    untraced = [n for n in modules if n not in names]
    if untraced:
        notes.append(f"not measured (never called in the traced forward): {', '.join(untraced)}")
    include = list(include or [])
    for pattern in include:
        if not any(_matches(pattern, n) for n in names):
            raise UsageError(f"include pattern {pattern!r} matches no Conv2d/Linear layer of the model")
    if include:
        names = [n for n in names if any(_matches(p, n) for p in include)]
    names = [n for n in names if not any(_matches(p, n) for p in (exclude or []))]
    if not names:
        raise UsageError("no Conv2d or Linear layer left to measure (check include/exclude)")
    return [(n, modules[n]) for n in names]


def _trace_order(model: nn.Module, input_shape: tuple[int, ...] | None, notes: list[str]) -> list[str] | None:
    if input_shape is None:
        notes.append("layer order: module registration order (no input_shape given to trace the model)")
        return None
    import sparsegraph.topology as topology

    trace = getattr(topology, "trace", None)
    if trace is None:
        notes.append("layer order: module registration order (sg.trace is not available)")
        return None
    try:
        topo = trace(model, input_shape)
    except BadInputError as exc:  # unsupported operations: layer metrics still apply
        notes.append(f"layer order: module registration order (the model could not be traced: {exc})")
        return None
    except MemoryLimitError as exc:  # layer metrics do not need the trace; metrics that do refuse on their own
        notes.append(f"layer order: module registration order ({exc})")
        return None
    return [layer.name for layer in topo.layers]


def _matches(pattern: str, name: str) -> bool:
    if pattern.startswith("re:"):
        return re.fullmatch(pattern[3:], name) is not None
    return fnmatch.fnmatchcase(name, pattern)


def _layer_graph(name: str, module: nn.Module, masks: Mapping[str, torch.Tensor] | None):
    from sparsegraph.graphs.bipartite import bipartite

    weight = module.weight.detach()
    mask = None if masks is None else masks.get(f"{name}.weight")
    if mask is None:
        mask = torch.ones(weight.shape, dtype=torch.bool)
    return bipartite(mask.detach().cpu(), weight=weight.cpu(), name=name)


# ---------------------------------------------------------------------------------------------- the run
class _Run:
    """The state of one ``measure`` call: inputs, layer graphs and the rows written so far."""

    def __init__(self, model: nn.Module, masks: Mapping[str, torch.Tensor] | None, input_shape,
                 layers: list[tuple[str, nn.Module]], metric_options: dict[str, dict[str, Any]]):
        self.model = model
        self.masks = masks
        self.input_shape = input_shape
        self.layers = layers
        self.options = metric_options
        self.rows: list[dict[str, Any]] = []
        self.details: dict[tuple[str, str | None], MetricResult] = {}
        self._graphs: dict[str, Any] | None = None
        self._encoded_graphs: dict[str, Any] = {}

    @property
    def graphs(self) -> dict[str, Any]:
        """Layer name -> rolled BipartiteGraph, built once (a layer whose mask does not fit raises)."""
        if self._graphs is None:
            self._graphs = {name: _layer_graph(name, module, self.masks) for name, module in self.layers}
        return self._graphs

    def prepare(self, layer_infos: list[MetricInfo]) -> None:
        """Call each family's batch preparer once with every layer graph."""
        done: list[tuple[Any, dict[str, Any]]] = []
        for family in dict.fromkeys(i.family for i in layer_infos):
            preparer = get_preparer(family)
            if preparer is None:
                continue
            options: dict[str, Any] = {}
            for info in layer_infos:
                if info.family == family:
                    options.update(resolve_options(info, self.options[info.name]))
            if (preparer, options) in done:
                continue
            done.append((preparer, options))
            try:
                preparer(list(self.graphs.values()), current_cache(), **options)
            except MetricError as exc:
                warnings.warn(f"batch preparation of family {family!r} failed ({exc}); computing layer by layer",
                              RuntimeWarning, stacklevel=5)

    def layer_metric(self, info: MetricInfo, forced_aggregate: str | None) -> None:
        results = [self._evaluate(info, graph, layer=name) for name, graph in self.graphs.items()]
        convention = self.options[info.name].get("convention")
        rule = forced_aggregate or info.aggregate_for(convention)
        network = aggregate_results(rule, results)
        if network is not None:
            self._add(info, None, network, n_layers=len(results),
                      n_defined=sum(r.status == "ok" for r in results))

    def network_metric(self, info: MetricInfo) -> None:
        options = dict(self.options[info.name])
        if "layers" in info.options:
            options["layers"] = [name for name, _ in self.layers]
        result = self._evaluate(info, (self.model, self.masks), layer=None, options=options, add=False)
        n_defined = 0
        for name, _ in self.layers:
            if name not in result.per_layer:
                continue
            layer_result = _per_layer_result(info.name, result.per_layer[name])
            n_defined += layer_result.status == "ok"
            self._add(info, name, layer_result)
        self._add(info, None, result, n_layers=len(self.layers), n_defined=n_defined)

    def graph_metric(self, info: MetricInfo, topo_encoding: str) -> None:
        if topo_encoding == "rolled":
            for name, graph in self.graphs.items():
                self._evaluate(info, graph, layer=name)
            return
        try:
            encoded = self._encoded(topo_encoding)
        except MemoryLimitError:
            raise
        except (SparsegraphError, ValueError) as exc:
            failure = MetricResult(None, "error", f"cannot build the {topo_encoding} graph: {exc}")
            if topo_encoding == "mge":
                self._add(info, None, failure, n_layers=len(self.layers), n_defined=0)
            else:
                for name, _ in self.layers:
                    self._add(info, name, failure)
            return
        if topo_encoding == "mge":
            result = self._evaluate(info, encoded, layer=None, add=False)
            n = len(self.layers)
            self._add(info, None, result, n_layers=n, n_defined=n if result.status == "ok" else 0)
        else:
            for name, _ in self.layers:
                self._evaluate(info, encoded[name], layer=name)

    def _encoded(self, encoding: str) -> Any:
        import sparsegraph.graphs as graphs

        if encoding not in self._encoded_graphs:
            encode = getattr(graphs, "encode", None)
            if encode is None:
                raise MetricError("sg.encode is not available in this installation")
            self._encoded_graphs[encoding] = encode(self.model, self.masks, encoding=encoding,
                                                    input_shape=self.input_shape)
        return self._encoded_graphs[encoding]

    def _evaluate(self, info: MetricInfo, target: Any, layer: str | None, options: dict[str, Any] | None = None,
                  add: bool = True) -> MetricResult:
        try:
            result = compute_detailed(info.name, target, **(self.options[info.name] if options is None else options))
        except MemoryLimitError:  # refused before allocating: the user raises the limit, not reads an error row
            raise
        except SparsegraphError as exc:
            result = MetricResult(None, "error", str(exc))
        if add:
            self._add(info, layer, result)
        return result

    def _add(self, info: MetricInfo, layer: str | None, result: MetricResult, **counts: int) -> None:
        row: dict[str, Any] = {"scope": "layer" if layer is not None else "network", "layer": layer,
                               "metric": info.name, "value": result.value, "status": result.status}
        if result.status == "undefined" and result.reason:
            row["reason"] = result.reason
        elif result.status == "error":
            row["message"] = result.reason
        row.update(counts)
        self.rows.append(row)
        self.details[(info.name, layer)] = result


def _per_layer_result(name: str, raw: Any) -> MetricResult:
    try:
        return as_result(name, raw)
    except MetricError as exc:
        return MetricResult(None, "error", str(exc))

