"""MeasureResult: failures grouped by reason, and the table layouts."""

from sparsegraph.metrics.result import WIDE_TABLE_MAX_WIDTH, Failure, MeasureResult


def _result(metrics, layers=("conv1", "fc")):
    rows = []
    for metric in metrics:
        for layer in layers:
            failed = metric.endswith("broken")
            rows.append({"scope": "layer", "layer": layer, "metric": metric, "value": None if failed else 0.25,
                         "status": "error" if failed else "ok", **({"message": "boom"} if failed else {})})
        rows.append({"scope": "network", "layer": None, "metric": metric, "value": 0.25, "status": "ok"})
    return MeasureResult(model="net", masks=None, options={}, layers=list(layers), rows=rows)


def test_failures_group_cells_by_message():
    result = _result(["a.broken", "b.ok", "c.broken"])
    assert result.failures() == [Failure("boom", (("a.broken", "conv1"), ("a.broken", "fc"),
                                                  ("c.broken", "conv1"), ("c.broken", "fc")))]
    assert result.failures()[0].describe() == "a.broken on conv1, fc; c.broken on conv1, fc: boom"
    many = Failure("x", tuple(("m.x", f"l{i}") for i in range(5)))
    assert many.describe() == "m.x on l0, l1, l2 and 2 more: x"


def test_auto_layout_is_wide_while_it_fits_then_long():
    narrow = _result(["a.ok", "b.ok"])
    assert narrow.to_table().splitlines()[0].split() == ["layer", "a.ok", "b.ok"]
    wide = _result([f"family.metric_{i:02d}" for i in range(12)])
    assert len(wide.to_table("wide").splitlines()[0]) > WIDE_TABLE_MAX_WIDTH
    lines = wide.to_table().splitlines()
    assert lines[0].split() == ["metric", "layer", "value"] and len(lines) == 2 + 12 * 3
    assert lines[2].split() == ["family.metric_00", "conv1", "0.25"]
    assert lines[4].split() == ["family.metric_00", "(network)", "0.25"]
