"""Generator registry: listing, decorator and call registration, duplicates, entry points."""

from importlib import metadata

import pytest
import torch

import sparsegraph as sg
from sparsegraph.errors import GeneratorRegistrationError, NonFiniteScoreError
from sparsegraph.pruning import registry


@pytest.fixture
def clean_registry(monkeypatch):
    registry._discover()
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


def test_builtins_are_listed():
    names = [g.name for g in sg.pruning.list_generators()]
    assert names == ["early-bird", "eb", "er", "erk", "grasp", "imp", "iter-snip", "magnitude", "npb", "pags", "pegs",
                     "random", "random-global", "rigl", "set", "snip", "synflow"]
    info = {g.name: g for g in sg.pruning.list_generators()}
    assert info["random"].scope == "layer" and info["random"].min_per_layer == 1
    assert info["snip"].min_per_layer == 0 and info["snip"].data == "labels"
    assert info["synflow"].rounds == 100 and info["iter-snip"].rounds == 100 and info["synflow"].data == "shape"


def test_decorator_registration_and_duplicate_refusal(clean_registry, vgg):
    @sg.pruning.register_generator("neg-magnitude", scope="global")
    def neg(model, ctx):
        return {n: -p.detach().abs() for n, p in ctx.params.items()}

    masks = sg.prune(vgg, "neg-magnitude", density=0.2, seed=0)
    kept = torch.cat([vgg.state_dict()[n].abs().flatten()[masks[n].flatten()] for n in masks])
    pruned = torch.cat([vgg.state_dict()[n].abs().flatten()[~masks[n].flatten()] for n in masks])
    assert kept.max() <= pruned.min()
    with pytest.raises(GeneratorRegistrationError, match="already registered"):
        sg.pruning.register_generator("neg-magnitude", neg)
    with pytest.raises(GeneratorRegistrationError):
        sg.pruning.register_generator("bad-scope", neg, scope="sideways")


def test_a_non_finite_custom_score_raises(clean_registry, vgg):
    sg.pruning.register_generator("nan", lambda model, ctx: {n: torch.full_like(p, float("nan"))
                                                             for n, p in ctx.params.items()})
    with pytest.raises(NonFiniteScoreError, match="features.0.weight"):
        sg.prune(vgg, "nan", density=0.5, seed=0)


def test_entry_points_are_discovered(monkeypatch, vgg):
    info = registry.GeneratorInfo(name="plugin-magnitude", score=lambda model, ctx: {
        n: p.detach().abs() for n, p in ctx.params.items()})

    class EntryPoint:
        name = "plugin-magnitude"

        def load(self):
            return info

    def entry_points(group):
        assert group == "sparsegraph.generators"
        return [EntryPoint()]

    registry._discover()                      # built-ins first; their module stays imported
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_DISCOVERED", False)
    monkeypatch.setattr(metadata, "entry_points", entry_points)
    names = [g.name for g in sg.pruning.list_generators()]
    assert "plugin-magnitude" in names and "snip" in names
    a = sg.prune(vgg, "plugin-magnitude", density=0.1, seed=0)
    b = sg.prune(vgg, "magnitude", density=0.1, seed=0)
    assert all(torch.equal(a[n], b[n]) for n in a)
