import pytest
import torch
from torch import nn

import sparsegraph as sg
from sparsegraph.errors import MemoryLimitError
from sparsegraph.topology.memory import check_forward_memory, forward_bytes


def test_forward_bytes_counts_every_new_tensor_once():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(inplace=True), nn.Flatten(), nn.Linear(8 * 5 * 5, 4))
    # input 3·25, conv 8·25 (ReLU in place, Flatten a view), linear 4: float32
    assert forward_bytes(net, (3, 5, 5)) == 4 * (75 + 200 + 4)
    assert forward_bytes(net, (3, 5, 5), torch.float64) == 8 * (75 + 200 + 4)
    assert all(p.device.type == "cpu" for p in net.parameters())  # the model is untouched


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        if x.sum() > 0:  # needs real values: cannot run on the meta device
            x = x * 2
        return self.fc(x)


def test_a_forward_that_needs_values_is_estimated_by_its_input():
    assert forward_bytes(DataDependent(), (4,)) == 16


def test_trace_refuses_a_huge_input_before_allocating():
    model = sg.create_model("resnet20")
    with pytest.raises(MemoryLimitError, match=r"tracing CifarResNet on input 3x100000x100000 needs about \d+ TiB"):
        sg.trace(model, (3, 100000, 100000))
    with pytest.raises(MemoryLimitError, match="above the memory limit of 1.0 MiB"):
        check_forward_memory(model, (3, 32, 32), "tracing", max_bytes="1MiB")
    assert check_forward_memory(model, (3, 32, 32), "tracing") is None  # small input: not estimated
