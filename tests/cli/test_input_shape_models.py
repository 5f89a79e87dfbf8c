"""--input-shape builds zoo models for the data they were pruned on (e.g. 1x8x8 digits)."""

import json

import sparsegraph as sg
from click.testing import CliRunner

from sparsegraph_cli.main import main


def test_measure_and_masks_build_the_zoo_model_for_the_input_shape(tmp_path):
    model = sg.create_model("resnet20", input_shape=(1, 8, 8))
    masks = sg.prune(model, "erk", density=0.05, seed=0)
    path = tmp_path / "m.safetensors"
    masks.save(path)
    runner = CliRunner()
    out = runner.invoke(main, ["measure", "--model", "resnet20", "--input-shape", "1,8,8", "--masks", str(path),
                               "--metrics", "density", "--format", "json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    network = [r for r in doc["rows"] if r["scope"] == "network"][0]
    assert abs(network["value"] - masks.density) < 1e-12
    checked = runner.invoke(main, ["masks", str(path), "--model", "resnet20", "--input-shape", "1,8,8",
                                   "--format", "json"])
    assert checked.exit_code == 0 and json.loads(checked.stdout)["model"]["fits"] is True
    # without the shape, the CIFAR-shaped model does not fit: one line, exit 3
    bad = runner.invoke(main, ["masks", str(path), "--model", "resnet20"])
    assert bad.exit_code == 3 and "conv1.weight" in bad.output
