import json

import pytest
import torch
from click.testing import CliRunner

from sparsegraph.errors import BadInputError, UsageError
from sparsegraph.masks import MaskSet
from sparsegraph.runs import PruneRunConfig, run_prune
from sparsegraph_cli.main import main


def _config(**kw):
    base = dict(model="lenet5", dataset="digits", method="snip", density=0.1, seed=0,
                train_options={"epochs": 2}, metrics=("density", "ramanujan"))
    base.update(kw)
    return PruneRunConfig(**base)


def test_run_directory_holds_config_masks_metrics_log_and_summary(tmp_path):
    summary = run_prune(_config(), tmp_path / "run")
    run = tmp_path / "run"
    for name in ("config.json", "masks.safetensors", "metrics.json", "log.jsonl", "summary.json",
                 "checkpoints/last.pt", "checkpoints/best.safetensors"):
        assert (run / name).exists(), name
    masks = MaskSet.load(run / "masks.safetensors")
    assert masks.num_kept == int(0.1 * masks.numel + 0.5)
    assert summary["masked_density"] == pytest.approx(masks.density)
    assert summary["mask_fingerprint"] == masks.fingerprint()
    assert summary["epochs"] == 2 and 0.1 < summary["test_final"] <= 1
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["format"] == "sparsegraph.measure/1"
    assert metrics["masks"]["fingerprint"] == masks.fingerprint()
    density_row = [r for r in metrics["rows"] if r["metric"] == "density" and r["scope"] == "network"][0]
    assert density_row["value"] == pytest.approx(masks.density)
    events = [json.loads(line)["event"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert events[0] == "config" and events[-1] == "summary"
    assert events.count("epoch") == 2 and "score" in events
    config = json.loads((run / "config.json").read_text())
    assert config["seed"] == 0 and config["num_classes"] == 10


def test_epochs_zero_only_generates_and_measures(tmp_path):
    summary = run_prune(_config(method="erk", train_options={"epochs": 0}), tmp_path / "run")
    assert "test_final" not in summary
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_non_empty_run_dir_without_resume_is_a_usage_error(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "other.txt").write_text("x")
    with pytest.raises(UsageError, match="not empty"):
        run_prune(_config(), tmp_path / "run")


def test_resume_with_another_configuration_is_bad_input(tmp_path):
    run_prune(_config(train_options={"epochs": 0}), tmp_path / "run")
    with pytest.raises(BadInputError, match="differs in: density"):
        run_prune(_config(density=0.2, train_options={"epochs": 0}), tmp_path / "run", resume=True)


def test_resume_continues_an_interrupted_run_to_the_same_weights(tmp_path, monkeypatch):
    cfg = _config(train_options={"epochs": 3}, deterministic=True)
    run_prune(cfg, tmp_path / "full")

    import sparsegraph.training.runlog as runlog

    original = runlog.RunLog.write

    def interrupt(self, event, **fields):
        if event == "epoch" and fields["epoch"] == 2:
            raise KeyboardInterrupt
        return original(self, event, **fields)

    monkeypatch.setattr(runlog.RunLog, "write", interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_prune(cfg, tmp_path / "cut")
    monkeypatch.setattr(runlog.RunLog, "write", original)
    summary = run_prune(cfg, tmp_path / "cut", resume=True)

    full = torch.load(tmp_path / "full" / "checkpoints" / "last.pt", weights_only=True)["model"]
    cut = torch.load(tmp_path / "cut" / "checkpoints" / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(full[k], cut[k]) for k in full)
    assert summary["epochs"] == 3


def test_class_count_mismatch_is_bad_input(tmp_path):
    with pytest.raises(BadInputError, match="has 10 classes"):
        run_prune(_config(num_classes=5), tmp_path / "run")


def test_cli_prints_test_accuracy(tmp_path):
    result = CliRunner().invoke(main, ["prune", "--model", "lenet5", "--dataset", "digits", "--method", "snip",
                                       "--sparsity", "0.9", "--epochs", "2", "-o", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "test accuracy" in result.output


@pytest.mark.parametrize("args, code, message", [
    (["--dataset", "cifar10", "--data-root", "{tmp}/none", "--sparsity", "0.9"], 3, "cifar10"),
    (["--dataset", "digitz", "--sparsity", "0.9"], 3, "digits"),
    (["--dataset", "digits", "--sparsity", "1.5"], 2, "sparsity"),
    (["--dataset", "digits", "--sparsity", "0.9", "--num-classes", "3"], 3, "10 classes"),
])
def test_cli_bad_input_gives_one_line_and_exit_code(tmp_path, args, code, message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = CliRunner().invoke(main, ["prune", "--model", "lenet5", "--method", "snip", "--epochs", "0",
                                       "-o", str(tmp_path / "run"), *args])
    assert result.exit_code == code, result.output
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(error_lines) == 1 and message in error_lines[0]


def test_a_failed_start_does_not_block_its_retry(tmp_path):
    run = tmp_path / "run"
    with pytest.raises(BadInputError, match="cannot read digits inputs"):
        run_prune(_config(model="torchvision:resnet18", train_options={"epochs": 0}), run)
    assert (run / "config.json").exists()  # the failed start left its configuration behind
    with pytest.warns(UserWarning, match="holds no results"):
        summary = run_prune(_config(train_options={"epochs": 0}), run)  # the corrected command, no --resume
    assert json.loads((run / "config.json").read_text())["model"] == "lenet5"
    assert summary["mask_fingerprint"] == MaskSet.load(run / "masks.safetensors").fingerprint()
    events = [json.loads(line)["event"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert events.count("config") == 1  # the failed start's log is gone


def test_resume_of_a_failed_start_with_another_configuration_starts_it_again(tmp_path):
    run = tmp_path / "run"
    with pytest.raises(BadInputError):
        run_prune(_config(model="torchvision:resnet18", train_options={"epochs": 0}), run)
    with pytest.warns(UserWarning, match="differs in: model"):
        run_prune(_config(train_options={"epochs": 0}), run, resume=True)
    assert (run / "masks.safetensors").exists()
    # once results exist, a different configuration is refused again
    with pytest.raises(BadInputError, match="differs in: density"):
        run_prune(_config(density=0.2, train_options={"epochs": 0}), run, resume=True)
