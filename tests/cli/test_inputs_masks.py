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
