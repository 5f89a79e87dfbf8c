"""The density metric on hand-made masks, and its ratio-of-sums network row."""

import pytest
import torch
from torch import nn

import sparsegraph as sg
from sparsegraph.errors import MetricError
from sparsegraph.metrics import compute, compute_detailed, measure


def test_linear_density_is_kept_fraction():
    mask = torch.tensor([[1, 0, 1, 0], [0, 0, 1, 1], [1, 0, 0, 0]], dtype=torch.bool)
    assert compute("density", sg.bipartite(mask)) == 5 / 12
    result = compute_detailed("density", sg.bipartite(mask, weight=torch.randn(3, 4)))
    assert dict(result.extras) == {"numerator": 5, "denominator": 12}


def test_conv_density_counts_the_4d_tensor():
    mask = torch.zeros(2, 3, 3, 3, dtype=torch.bool)
    mask[0, 0] = True  # 9 taps
    mask[1, 2, 1, 1] = True
    assert compute("density", sg.bipartite(mask)) == 10 / 54


def test_density_counts_kept_zero_weights():
    # a kept weight that is exactly 0 is still kept: density reads the mask, not the weight values
    mask = torch.ones(2, 2, dtype=torch.bool)
    weight = torch.tensor([[0.0, 1.0], [2.0, 0.0]])
    assert compute("density", sg.bipartite(mask, weight=weight)) == 1.0


def test_dense_and_empty_layers():
    assert compute("density", sg.bipartite(torch.ones(4, 5, dtype=torch.bool))) == 1.0
    assert compute("density", sg.bipartite(torch.zeros(4, 5, dtype=torch.bool))) == 0.0


def test_graph_without_tensor_counts_is_an_error():
    graph = sg.bipartite(torch.ones(2, 2, dtype=torch.bool))
    del graph.attrs["tensor_nnz"]
    with pytest.raises(MetricError, match="has no tensor_nnz/tensor_numel attributes"):
        compute("density", graph)


def test_network_density_is_the_ratio_of_sums_not_the_mean():
    model = nn.Sequential(nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 2))
    masks = {"0.weight": torch.zeros(10, 10, dtype=torch.bool), "2.weight": torch.ones(2, 10, dtype=torch.bool)}
    masks["0.weight"][:, :1] = True  # 10 of 100
    result = measure(model, masks, "density")
    assert result.value("density", "0") == 0.1
    assert result.value("density", "2") == 1.0
    assert result.value("density") == 30 / 120  # not (0.1 + 1.0)/2
    assert result.masks["density"] == 30 / 120
