"""The layer-by-layer forward count pass and would-be-effective positions (NPB's building blocks)."""

import torch
from torch import nn

from sparsegraph.metrics.path_counting import forward_layerwise, potential_effective, run_passes
from sparsegraph.topology import trace


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 3, bias=False), nn.ReLU(), nn.Linear(3, 2, bias=False))


MASKS = {"1.weight": torch.tensor([[1, 1, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]], dtype=torch.bool),
         "3.weight": torch.tensor([[1, 0, 0], [0, 1, 0]], dtype=torch.bool)}


def test_inflow_counts_the_paths_into_each_unit_through_the_chosen_layers():
    topology = trace(_mlp(), (1, 2, 2))
    seen = {}

    def choose(info, inflow):
        seen[info.param] = (inflow.per_unit() * 2.0 ** inflow.exponent, inflow.alive_units())
        return MASKS[info.param]

    chosen = forward_layerwise(topology, choose)
    assert {k: torch.equal(v, MASKS[k]) for k, v in chosen.items()} == {"1.weight": True, "3.weight": True}
    paths_in, alive = seen["1.weight"]
    assert paths_in.tolist() == [1.0, 1.0, 1.0, 1.0] and alive.all()
    paths_in, alive = seen["3.weight"]
    assert paths_in.tolist() == [2.0, 0.0, 4.0]  # row sums of the first mask
    assert alive.tolist() == [True, False, True]


def test_potential_effective_is_the_outer_product_of_the_indicators_and_contains_the_effective_weights():
    model = _mlp()
    topology = trace(model, (1, 2, 2))
    passes = run_passes(model, MASKS, (1, 2, 2), topology=topology, output_indicators=True)
    last = topology.layers[-1]
    inputs = {}

    def choose(info, inflow):
        inputs[info.param] = inflow.indicator.clone()
        return MASKS[info.param]

    forward_layerwise(topology, choose)
    # B⁺ at the logits is all ones; F⁺ into the last layer is [1, 0, 1]
    assert passes.output_indicator[last.name].tolist() == [1.0, 1.0]
    potential = potential_effective(last, inputs["3.weight"], passes.output_indicator[last.name])
    assert potential.tolist() == [[True, False, True], [True, False, True]]
    assert bool((passes.effective[last.name] <= potential).all())
