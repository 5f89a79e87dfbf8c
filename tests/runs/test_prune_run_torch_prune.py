"""Models pruned with torch.nn.utils.prune: pruned further, trained, measured and exported (issue 18.3)."""

import json
import textwrap

import pytest
import torch
from click.testing import CliRunner
from torch import nn
from torch.nn.utils import prune

import sparsegraph as sg
from sparsegraph_cli.main import main

NET = textwrap.dedent("""
    import torch.nn as nn, torchvision

    def build(num_classes=10):
        model = torchvision.models.resnet18(num_classes=num_classes)
        model.conv1 = nn.Conv2d(1, 64, 7, 2, 3, bias=False)  # digits: 1x8x8
        return model
""")


def torch_pruned(model, amount=0.5):
    layers = [(m, "weight") for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    prune.global_unstructured(layers, pruning_method=prune.L1Unstructured, amount=amount)
    return model


@pytest.fixture
def pruned_checkpoint(tmp_path, monkeypatch):
    """A torchvision ResNet-18 for digits pruned to 50 % by torch.nn.utils.prune, saved as a state dict."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.py").write_text(NET)
    model = torch_pruned(sg.load_model("net.py:build"))
    torch.save(model.state_dict(), tmp_path / "pruned.pt")
    return tmp_path / "pruned.pt", sg.MaskSet.from_model(model)


def test_torch_pruned_resnet18_is_pruned_further_and_trained_one_epoch_on_digits(pruned_checkpoint, tmp_path):
    checkpoint, start = pruned_checkpoint
    result = CliRunner().invoke(main, ["prune", "--model", "net.py:build", "--checkpoint", str(checkpoint),
                                       "--dataset", "digits", "--method", "snip", "--sparsity", "0.8", "--epochs", "1",
                                       "--metrics", "density", "--format", "json", "-o", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["epochs"] == 1 and 0 < summary["test_final"] <= 1
    masks = sg.MaskSet.load(tmp_path / "run" / "masks.safetensors")
    assert list(masks) == list(start)
    assert masks.num_kept == int(0.2 * masks.numel + 0.5)
    # the torch.nn.utils.prune mask was the starting mask: nothing it removed comes back
    assert all(not (masks[name] & ~start[name]).any() for name in masks)
    # the trained weights respect the final mask
    state = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)["model"]
    assert "conv1.weight" in state and "conv1.weight_orig" not in state
    assert all(not state[name][~masks[name]].any() for name in masks)


def test_torch_pruned_state_dict_is_measured_and_exported_with_its_masks(tmp_path):
    model = torch_pruned(sg.create_model("lenet5", input_shape=(1, 8, 8)))
    start = sg.MaskSet.from_model(model)
    torch.save(model.state_dict(), tmp_path / "pruned.pt")
    common = ["--model", "lenet5", "--input-shape", "1,8,8", "--checkpoint", str(tmp_path / "pruned.pt")]
    result = CliRunner().invoke(main, ["measure", *common, "--metrics", "density,paths", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    assert [r["value"] for r in rows if r["scope"] == "network" and r["metric"] == "density"] == \
        [pytest.approx(start.density)]
    result = CliRunner().invoke(main, ["export", *common, "--encoding", "mge", "--format", "npz",
                                       "-o", str(tmp_path / "g.npz")])
    assert result.exit_code == 0, result.output
    assert sg.load_graph(tmp_path / "g.npz").num_edges == \
        sg.encode(model, start, encoding="mge", input_shape=(1, 8, 8)).num_edges


def test_sg_prune_of_a_torch_pruned_model_keeps_its_mask_and_leaves_it_untouched():
    model = torch_pruned(sg.create_model("lenet5", input_shape=(1, 8, 8)), amount=0.6)
    start = sg.MaskSet.from_model(model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = torch.randn(16, 1, 8, 8), torch.randint(0, 10, (16,))
    result = sg.pruning.run(model, "snip", density=0.2, data=(x, y), seed=0)
    assert all(not (result.masks[n] & ~start[n]).any() for n in start)
    assert result.masks.num_kept == int(0.2 * result.masks.numel + 0.5)
    assert set(result.weights) == {k.replace("_orig", "") for k in before if not k.endswith("_mask")}
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # the input is not modified
    assert any(isinstance(h, prune.BasePruningMethod) for h in model.conv1._forward_pre_hooks.values())
    # an explicit masks= wins over the buffers
    dense = sg.MaskSet({n: torch.ones_like(m) for n, m in start.items()})
    again = sg.prune(model, "magnitude", density=0.5, masks=dense, seed=0)
    assert again.num_kept == int(0.5 * again.numel + 0.5)


def test_training_a_torch_pruned_model_folds_it_and_uses_its_buffers():
    from sparsegraph.training import load_train_data, train

    model = torch_pruned(sg.create_model("mlp", input_shape=(1, 8, 8)), amount=0.7)
    start = sg.MaskSet.from_model(model)
    result = train(model, None, load_train_data("digits"), epochs=1, seed=0)
    assert result.epochs == 1
    assert not any(isinstance(h, prune.BasePruningMethod) for m in model.modules() for h in m._forward_pre_hooks.values())
    assert all(not model.get_parameter(name)[~start[name]].any() for name in start)
