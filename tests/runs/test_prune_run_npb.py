"""``sparsegraph prune --method npb``: options in the CLI, the NPB report in summary.json and the log."""

import json

from click.testing import CliRunner

from sparsegraph.runs import PruneRunConfig, run_prune
from sparsegraph_cli.main import main


def _config(**options):
    return PruneRunConfig(model="resnet20", dataset="digits", method="npb", density=0.05, seed=0,
                          method_options=options, train_options={"epochs": 0}, metrics=("density",))


def test_summary_and_log_record_the_npb_options_and_objective_per_layer(tmp_path):
    summary = run_prune(_config(npb_alpha=0.1, npb_chunk=0), tmp_path / "run")
    npb = summary["npb"]
    assert npb["options"]["npb_alpha"] == 0.1 and npb["options"]["npb_chunk"] == 0
    assert len(npb["layers"]) == 22 and {"objective", "A", "B", "Reg", "layer"} <= set(npb["layers"][0])
    assert npb["objective"] == sum(layer["objective"] for layer in npb["layers"])
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert sum(r["event"] == "npb_solve" for r in rows) == npb["solves"]
    assert [r for r in rows if r["event"] == "npb"][0]["options"] == npb["options"]
    # a resumed run reads the report back from the log
    resumed = run_prune(_config(npb_alpha=0.1, npb_chunk=0), tmp_path / "run", resume=True)
    assert resumed["npb"]["objective"] == npb["objective"]


def test_cli_flags_reach_the_generator_and_the_objective_is_printed(tmp_path):
    args = ["prune", "--model", "resnet20", "--dataset", "digits", "--method", "npb", "--sparsity", "0.95",
            "--npb-alpha", "0.2", "--npb-beta", "2", "--npb-max-p", "6", "--npb-chunk", "16", "--npb-init", "uniform",
            "--npb-node-term", "paths", "--npb-placement", "random", "--no-npb-refine", "--npb-time-limit", "30",
            "--epochs", "0", "--metrics", "density", "-o", str(tmp_path / "run")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "NPB objective" in result.output
    options = json.loads((tmp_path / "run" / "summary.json").read_text())["npb"]["options"]
    assert options == {"npb_alpha": 0.2, "npb_beta": 2.0, "npb_max_p": 6, "npb_chunk": 16, "npb_init": "uniform",
                       "npb_node_term": "paths", "npb_placement": "random", "npb_refine": False,
                       "npb_time_limit": 30.0}


def test_cli_bad_npb_value_is_a_usage_error(tmp_path):
    args = ["prune", "--model", "resnet20", "--dataset", "digits", "--method", "npb", "--sparsity", "0.95",
            "--npb-init", "npb", "--epochs", "0", "-o", str(tmp_path / "run")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "npb_init" in result.output and "Traceback" not in result.output


def test_study_runs_npb_next_to_other_generators(tmp_path):
    args = ["study", "run", "--model", "mlp", "--dataset", "digits", "--methods", "npb,erk", "--sparsities", "0.9",
            "--seeds", "0", "--epochs", "0", "--metrics", "density", "-o", str(tmp_path / "study")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "study" / "npb_s0.9_seed0" / "summary.json").read_text())
    assert summary["method"] == "npb"
    assert [layer["layer"] for layer in summary["npb"]["layers"]] == list(summary["layer_densities"])
    # linear layers above 5,120 weights are solved in blocks of 10 outputs
    assert summary["npb"]["solves"] > len(summary["layer_densities"])
