import pytest

from sparsegraph.study.ranking import rank_methods

METHODS = ["erk", "random", "snip", "synflow"]
ACCURACY = [[0.90, 0.92], [0.80, 0.81], [0.95, 0.94], [0.85, 0.86]]  # snip > erk > synflow > random


def test_ranks_by_mean_target_and_metric_agreement():
    result = rank_methods(METHODS, ACCURACY, {
        "same": [[3.0, 3.2], [1.0, 1.1], [4.0, None], [2.0, 2.0]],
        "reversed": [[2.0], [4.0], [1.0], [3.0]],
        "lower_better": [[2.0], [4.0], [1.0], [3.0]],
    }, {"same": True, "reversed": True, "lower_better": False})
    ranks = {e["method"]: e["rank"] for e in result["methods"]}
    assert ranks == {"snip": 1, "erk": 2, "synflow": 3, "random": 4}
    assert result["methods"][0]["mean"] == pytest.approx(0.91)
    assert result["methods"][0]["std"] == pytest.approx(0.0141421356)
    assert result["metrics"]["same"]["kendall_tau"] == pytest.approx(1.0)
    assert result["metrics"]["same"]["means"]["snip"] == 4.0  # undefined values are left out of the mean
    assert result["metrics"]["reversed"]["kendall_tau"] == pytest.approx(-1.0)
    assert result["metrics"]["lower_better"]["kendall_tau"] == pytest.approx(1.0)
    assert result["metrics"]["lower_better"]["ranks"]["snip"] == 1


def test_accuracy_drop_ranks_lower_first_and_undefined_metrics_give_no_tau():
    result = rank_methods(METHODS, [[0.1], [0.3], [0.0], [0.2]], {"sparse": [[None], [None], [1.0], [2.0]]},
                          {"sparse": None}, target_higher_is_better=False)
    assert {e["method"]: e["rank"] for e in result["methods"]}["snip"] == 1
    assert result["metrics"]["sparse"]["kendall_tau"] is None
    assert result["metrics"]["sparse"]["n_methods"] == 2
