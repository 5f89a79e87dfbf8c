"""cli/inputs.load_model_and_masks with MaskSet: file masks in model order, dense models, zeros."""

import pytest
import torch
from safetensors.torch import save_file

import sparsegraph as sg
from sparsegraph.errors import MaskError
from sparsegraph_cli.inputs import load_model_and_masks


def test_mask_file_comes_back_in_model_order(tmp_path):
    model = sg.create_model("wrn28_2")
    shapes = {name: tuple(w.shape) for name, w in sg.masks.maskable_parameters(model).items()}
    # a foreign safetensors file without sparsegraph's header: safetensors lists keys sorted
    save_file({name: torch.ones(shape, dtype=torch.uint8) for name, shape in reversed(shapes.items())},
              str(tmp_path / "m.safetensors"))
    assert list(sg.MaskSet.load(tmp_path / "m.safetensors")) == sorted(shapes) != list(shapes)
    _, masks = load_model_and_masks("wrn28_2", None, 10, str(tmp_path / "m.safetensors"))
    assert list(masks) == list(shapes) and masks.density == 1.0


def test_dense_model_gives_none_with_a_warning():
    with pytest.warns(UserWarning, match="no masks given: measuring the dense model"):
        model, masks = load_model_and_masks("mlp", None, 10)
    assert masks is None and isinstance(model, torch.nn.Module)


def test_masks_from_zeros_and_mismatch(tmp_path):
    sg.MaskSet({"fc1.weight": torch.ones(3, 3)}).save(tmp_path / "bad.npz")
    with pytest.raises(MaskError, match=r"bad.npz: parameter 'fc1.weight': mask shape \(3, 3\)"):
        load_model_and_masks("mlp", None, 10, str(tmp_path / "bad.npz"))
    _, masks = load_model_and_masks("mlp", None, 10, masks_from_zeros=True)
    assert masks.density == 1.0 and masks.metadata["generator"] == "nonzero"


def test_prune_records_the_input_shape_and_later_commands_use_it(tmp_path):
    import json

    from click.testing import CliRunner

    from sparsegraph_cli.main import main

    run = tmp_path / "run"
    result = CliRunner().invoke(main, ["prune", "--model", "resnet20", "--dataset", "digits", "--method", "erk",
                                       "--sparsity", "0.98", "--epochs", "0", "--metrics", "density", "-o", str(run)])
    assert result.exit_code == 0, result.output
    masks_path = str(run / "masks.safetensors")
    assert sg.MaskSet.load(masks_path).metadata["input_shape"] == [1, 8, 8]
    result = CliRunner().invoke(main, ["measure", "--model", "resnet20", "--masks", masks_path,
                                       "--metrics", "density,paths.log10_paths", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["options"]["input_shape"] == [1, 8, 8]
    result = CliRunner().invoke(main, ["export", "--model", "resnet20", "--masks", masks_path, "--encoding", "mge",
                                       "--format", "npz", "-o", str(tmp_path / "g.npz")])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["masks", masks_path, "--model", "resnet20", "--input-shape", "3,32,32"])
    assert result.exit_code == 3
    assert "the masks were made for input shape 1,8,8 (recorded in the file): pass --input-shape 1,8,8" \
        in result.output


def test_a_mask_for_another_input_shape_names_the_option(tmp_path):
    sg.prune(sg.create_model("lenet5", input_shape=(1, 8, 8)), "erk", density=0.1, seed=0).save(tmp_path / "m.npz")
    with pytest.raises(MaskError, match="another input shape .* pass --input-shape"):
        load_model_and_masks("lenet5", None, None, str(tmp_path / "m.npz"))


def test_model_args_reach_the_constructor_and_torchvision_notes_its_class_count(capsys):
    model, _ = load_model_and_masks("torchvision:resnet18", None, None, model_args=("zero_init_residual=true",))
    assert model.fc.out_features == 10
    assert "torchvision's own models and checkpoints have 1000" in capsys.readouterr().err
    model, _ = load_model_and_masks("resnet20", None, 7, model_args=("shortcut=A",))
    assert model.linear.out_features == 7 and len(sg.masks.maskable_parameters(model)) == 20
