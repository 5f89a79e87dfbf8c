"""The README's training examples reproduce the accuracies the README and the PAGS tutorial state.

Slow (about 4 minutes on two loaded CPU cores): each runs the documented command line, with ``-o`` in a
temporary folder. CPU training is seeded, so the numbers agree up to thread-count rounding; the
tolerance is a small fraction of the 359 test images.
"""

import json

import pytest
from click.testing import CliRunner

from sparsegraph_cli.main import main

# command (without -o) -> (documented test accuracy at the best validation epoch, other summary checks)
EXAMPLES = {
    "main-job": (["prune", "--model", "resnet20", "--dataset", "digits", "--method", "snip", "--sparsity", "0.9"],
                 0.9861, {}),
    "pags": (["prune", "--model", "mlp", "--dataset", "digits", "--method", "pags", "--base", "snip",
              "--sparsity", "0.98", "--population", "200", "--workers", "2"],
             0.8579, {"pags_rebalanced": True, "pags_kept": 1004, "pags_score": 1.92016}),
    "pags-base": (["prune", "--model", "mlp", "--dataset", "digits", "--method", "pags", "--base", "snip",
                   "--sparsity", "0.98", "--population", "0"],
                  0.8245, {"pags_kept": 1004}),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXAMPLES))
def test_readme_example_accuracy(tmp_path, name):
    args, accuracy, checks = EXAMPLES[name]
    result = CliRunner().invoke(main, [*args, "-o", str(tmp_path / name), "--no-progress"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / name / "summary.json").read_text())
    assert summary["test_at_best_val"] == pytest.approx(accuracy, abs=0.012)  # ±4 of 359 test images
    for key, value in checks.items():
        assert summary[key] == (pytest.approx(value, rel=1e-4) if isinstance(value, float) else value), key
