"""State-dict safetensors files: bitwise round trip (tied weights included) and a one-line error."""

import pytest
import torch
from torch import nn

from sparsegraph.errors import BadInputError, CheckpointError
from sparsegraph.utils.state_dict import load_state_dict, save_state_dict


def test_round_trip_keeps_weights_and_buffers_bitwise(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 4, bias=False))
    model[2].weight = nn.Parameter(model[0].weight.t())  # a view of another weight: shared storage
    model[1].running_mean.add_(0.5)
    save_state_dict(tmp_path / "w.safetensors", model)
    loaded = load_state_dict(tmp_path / "w.safetensors")
    state = model.state_dict()
    assert loaded.keys() == state.keys()
    for name, value in state.items():
        assert loaded[name].dtype == value.dtype and torch.equal(loaded[name], value), name
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]  # no temporary file left


def test_unreadable_file_is_a_checkpoint_error_naming_it(tmp_path):
    path = tmp_path / "start.safetensors"
    path.write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError, match=r"start\.safetensors: unreadable start weights \(") as info:
        load_state_dict(path, "start weights")
    assert isinstance(info.value, BadInputError) and "\n" not in str(info.value)
    with pytest.raises(CheckpointError, match="missing.safetensors: unreadable weights"):
        load_state_dict(tmp_path / "missing.safetensors")
