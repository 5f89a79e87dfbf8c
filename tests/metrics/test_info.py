"""MetricInfo carries exactly the §1 fields; MetricResult validates its status and value."""

import dataclasses
import json
import math

import pytest

from sparsegraph.metrics import MetricInfo, MetricResult, list_metrics


def test_metric_info_has_exactly_the_spec_fields_and_is_frozen():
    assert [f.name for f in dataclasses.fields(MetricInfo)] == [
        "name", "family", "scope", "encoding", "requires_weights", "higher_is_better", "units", "conventions",
        "options", "aggregate", "description", "source", "version"]
    info = list_metrics("density")[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.name = "other"
    with pytest.raises(TypeError):
        info.options["x"] = 1  # read-only mapping


def test_aggregate_per_convention_and_default_options(empty_registry):
    from sparsegraph.metrics import register_metric

    register_metric(lambda g, convention, solver: 1.0, name="mine.x", scope="layer", encoding="rolled",
                    conventions=("neurips2023", "iclr2023"), options={"solver": "auto"},
                    aggregate={"neurips2023": "zero_mean", "iclr2023": "valid_mean"}, description="x")
    info = list_metrics()[0]
    assert info.aggregate_for(None) == "zero_mean"
    assert info.aggregate_for("iclr2023") == "valid_mean"
    assert info.default_options() == {"solver": "auto", "convention": "neurips2023"}
    assert json.loads(json.dumps(info.to_dict()))["aggregate"] == {"neurips2023": "zero_mean",
                                                                   "iclr2023": "valid_mean"}


def test_metric_result_status_is_derived_and_checked():
    assert MetricResult(1).status == "ok" and MetricResult(1).value == 1.0
    assert MetricResult(None).status == "undefined"
    assert MetricResult(None, "error", "boom").reason == "boom"
    with pytest.raises(ValueError, match="status 'ok' needs a value"):
        MetricResult(None, "ok")
    with pytest.raises(ValueError, match="must have value None"):
        MetricResult(1.0, "undefined")
    with pytest.raises(ValueError, match="must be finite"):
        MetricResult(math.nan)
    with pytest.raises(ValueError, match="status must be one of ok, undefined, error"):
        MetricResult(1.0, "fine")
    extras = {"k": 1}
    result = MetricResult(2.0, extras=extras)
    extras["k"] = 2
    assert result.extras["k"] == 1  # a copy, read-only
