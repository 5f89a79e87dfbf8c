"""The network rules of metrics.md §4 on hand-made layer results."""

import pytest

from sparsegraph.metrics import MetricResult
from sparsegraph.metrics.aggregation import aggregate_results

OK2, OK4, UNDEF = MetricResult(2.0), MetricResult(4.0), MetricResult(None, "undefined", "threshold")


@pytest.mark.parametrize("rule, results, value, status", [
    ("valid_mean", [OK2, UNDEF, OK4], 3.0, "ok"),
    ("zero_mean", [OK2, UNDEF, OK4], 2.0, "ok"),
    ("mean", [OK2, OK4], 3.0, "ok"),
    ("mean", [OK2, UNDEF], None, "undefined"),
    ("valid_mean", [UNDEF, UNDEF], None, "undefined"),
    ("zero_mean", [UNDEF, UNDEF], 0.0, "ok"),
    ("valid_mean", [], None, "undefined"),
    ("zero_mean", [OK2, MetricResult(None, "error", "boom")], None, "error"),
])
def test_rules(rule, results, value, status):
    network = aggregate_results(rule, results)
    assert (network.value, network.status) == (value, status)


def test_ratio_is_a_ratio_of_sums():
    layers = [MetricResult(0.1, extras={"numerator": 10, "denominator": 100}),
              MetricResult(1.0, extras={"numerator": 20, "denominator": 20})]
    assert aggregate_results("ratio", layers).value == 30 / 120
    empty = [MetricResult(None, "undefined", extras={"numerator": 0, "denominator": 0})]
    assert aggregate_results("ratio", empty).status == "undefined"
    missing = aggregate_results("ratio", [OK2])
    assert (missing.status, missing.reason) == ("error", "the ratio aggregate needs numerator and denominator extras")


def test_none_gives_no_row_and_unknown_rules_fail():
    assert aggregate_results("none", [OK2]) is None
    with pytest.raises(ValueError, match="unknown aggregate 'median'"):
        aggregate_results("median", [OK2])


def test_failures_are_counted():
    network = aggregate_results("valid_mean", [OK2, MetricResult(None, "error", "x"), MetricResult(None, "error", "y")])
    assert network.reason == "2 of 3 layers failed"
