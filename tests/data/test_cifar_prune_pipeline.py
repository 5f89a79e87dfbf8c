"""The issue's GPU command, `prune --model resnet18 --dataset cifar10 --method grasp --sparsity 0.99`, end
to end on CPU over a fake CIFAR-10 in the real on-disk format (100 training images)."""

import json

from click.testing import CliRunner

from sparsegraph.masks import MaskSet
from sparsegraph_cli.main import main


def test_resnet18_grasp_on_cifar10_files(fake_cifar10, tmp_path):
    run = tmp_path / "run"
    result = CliRunner().invoke(main, [
        "prune", "--model", "resnet18", "--dataset", "cifar10", "--data-root", str(fake_cifar10),
        "--method", "grasp", "--sparsity", "0.99", "--score-batch-size", "16", "--val-split", "10",
        "--epochs", "1", "--batch-size", "32", "--metrics", "density", "--device", "cpu", "-o", str(run)])
    assert result.exit_code == 0, result.output
    summary = json.loads((run / "summary.json").read_text())
    masks = MaskSet.load(run / "masks.safetensors")
    assert masks.num_kept == int(0.01 * 11_164_352 + 0.5) == 111_644
    assert summary["masked_density"] == masks.density and summary["epochs"] == 1
    assert 0.0 <= summary["test_final"] <= 1.0
    config = json.loads((run / "config.json").read_text())
    assert config["recipe_resolved"]["name"] == "cifar" and config["val_split"] == 10
    # training held the uint8 images as tensors and augmented them (crop 32 with padding 4, flip)
    assert (run / "checkpoints" / "last.pt").exists()
