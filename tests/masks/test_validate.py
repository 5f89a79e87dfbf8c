"""Mask value checks and fit checks on their own."""

import numpy as np
import pytest
import torch
from torch import nn

from sparsegraph.errors import MaskError
from sparsegraph.masks.validate import check_fits, check_keeps_something, to_bool_mask


def test_to_bool_mask_converts_without_touching_the_input():
    source = torch.tensor([1.0, 0.0, 1.0], requires_grad=True)
    mask = to_bool_mask("w", source)
    assert mask.tolist() == [True, False, True] and mask.dtype == torch.bool and not mask.requires_grad
    assert source.dtype == torch.float32
    array = np.array([[1, 0]], dtype=np.int8)[:, ::-1]  # non-contiguous numpy view
    assert to_bool_mask("w", array).tolist() == [[False, True]]
    sparse = torch.tensor([[0, 1], [1, 0]]).to_sparse()
    assert to_bool_mask("w", sparse).tolist() == [[False, True], [True, False]]


def test_to_bool_mask_names_source_and_parameter():
    with pytest.raises(MaskError, match=r"^f.npz: parameter 'w': mask contains the non-boolean value -1 "):
        to_bool_mask("w", np.array([0, -1]), source="f.npz")


def test_check_keeps_something_allows_single_empty_layers():
    check_keeps_something({"a": torch.zeros(3, dtype=torch.bool), "b": torch.ones(1, dtype=torch.bool)})
    check_keeps_something({})
    with pytest.raises(MaskError, match="^m.pt: the masks keep no weight at all"):
        check_keeps_something({"a": torch.zeros(3, dtype=torch.bool)}, source="m.pt")


def test_check_fits_top_level_module():
    check_fits({"weight": torch.ones(2, 3, dtype=torch.bool)}, nn.Linear(3, 2))
    with pytest.raises(MaskError, match=r"is a parameter of Linear, not a maskable weight"):
        check_fits({"bias": torch.ones(2, dtype=torch.bool)}, nn.Linear(3, 2))
    with pytest.raises(MaskError, match=r"is not a maskable parameter of the model \(0 maskable weights\)$"):
        check_fits({"scale": torch.ones(2, dtype=torch.bool)}, nn.LayerNorm(2))


def test_to_bool_mask_copies_bool_input():
    source = torch.tensor([True, False])
    mask = to_bool_mask("w", source)
    source[1] = True
    assert mask.tolist() == [True, False]
