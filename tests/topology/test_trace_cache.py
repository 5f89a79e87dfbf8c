"""sg.trace caching and meta tracing (issue 16.7): same topology as a real trace, keys that see every change."""

import importlib

import pytest
import torch
import torchvision
from torch import nn

import sparsegraph as sg
from sparsegraph.errors import UsageError

trace_module = importlib.import_module("sparsegraph.topology.trace")


def real_trace(model, shape, tracer="auto", leaves=(), dtype=None):
    """The uncached trace on the model's own device (a dense forward), as before caching existed."""
    return trace_module._run_tracer(model, tuple(shape), dtype, tracer, tuple(leaves))


@pytest.fixture(autouse=True)
def empty_cache():
    sg.topology.clear_cache()
    yield
    sg.topology.clear_cache()


@pytest.mark.parametrize("name", sg.list_models())
def test_cached_meta_trace_equals_the_real_trace_for_every_zoo_model(name):
    model = sg.create_model(name)
    shape = sg.models.default_input_shape(name)
    first = sg.trace(model, shape)
    assert first.to_dict() == real_trace(model, shape).to_dict()
    assert sg.trace(sg.create_model(name), shape) is first  # another instance, same structure: a hit


@pytest.mark.parametrize("tracer", ["fx", "hooks"])
def test_meta_trace_equals_the_real_trace_for_torchvision_models(tracer):
    for model in (torchvision.models.resnet18(num_classes=10), torchvision.models.mobilenet_v2(num_classes=10)):
        assert sg.trace(model, (3, 64, 64), tracer=tracer).to_dict() == \
            real_trace(model, (3, 64, 64), tracer).to_dict()


def test_a_cache_miss_runs_no_dense_forward_and_a_hit_runs_none():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    devices = []
    model[0].register_forward_pre_hook(lambda module, inputs: devices.append(inputs[0].device.type))
    sg.trace(model, (3, 8, 8))
    assert devices == ["meta"]
    sg.trace(model, (3, 8, 8))
    assert devices == ["meta"]


def test_the_key_sees_input_shape_dtype_tracer_leaves_and_structure():
    a = sg.trace(sg.create_model("lenet5", input_shape=(1, 8, 8)), (1, 8, 8))
    b = sg.trace(sg.create_model("lenet5", input_shape=(1, 28, 28)), (1, 28, 28))
    assert a.layer("fc1").weight_shape != b.layer("fc1").weight_shape
    shortcut_b = sg.trace(sg.create_model("resnet20"), (3, 32, 32))
    shortcut_a = sg.trace(sg.create_model("resnet20", shortcut="A"), (3, 32, 32))
    assert len(shortcut_b.layers) == len(shortcut_a.layers) + 2  # two projection convs only in option B
    model = sg.create_model("resnet20")
    assert sg.trace(model, (3, 32, 32), tracer="hooks").tracer == "hooks"
    assert sg.trace(model, (3, 32, 32)).tracer == "fx"
    assert sg.trace(model, (3, 32, 32), input_dtype=torch.float64) is not sg.trace(model, (3, 32, 32))


class Switch(nn.Module):
    """The forward depends on a plain attribute: the trace must follow it."""

    def __init__(self, pool: bool):
        super().__init__()
        self.pool = pool
        self.conv = nn.Conv2d(1, 2, 3, padding=1)

    def forward(self, x):
        x = self.conv(x)
        return nn.functional.max_pool2d(x, 2) if self.pool else x


def test_a_plain_attribute_that_changes_the_forward_changes_the_key():
    model = Switch(pool=False)
    assert [n.kind for n in sg.trace(model, (1, 4, 4)).nodes] == ["input", "layer", "output"]
    model.pool = True
    assert [n.kind for n in sg.trace(model, (1, 4, 4)).nodes] == ["input", "layer", "pool", "output"]


def test_a_user_hook_changes_the_key_and_prune_reparametrisation_keeps_the_layer():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())
    before = sg.trace(model, (1, 5, 5))
    model[1].register_forward_hook(lambda m, i, o: o * 2)
    assert sg.trace(model, (1, 5, 5)) is not before
    torch.nn.utils.prune.random_unstructured(model[0], "weight", amount=0.5)
    assert [l.param for l in sg.trace(model, (1, 5, 5)).layers] == ["0.weight"]


class NeedsValues(nn.Module):
    """Reads a tensor value (``float(...)``), which a meta tensor does not have."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)

    def forward(self, x):
        return self.conv(x) * float(x.mean() * 0 + 1)


def test_models_that_need_values_fall_back_to_the_real_trace():
    topo = sg.trace(NeedsValues(), (1, 5, 5), tracer="hooks")
    assert [l.name for l in topo.layers] == ["conv"] and topo.layers[0].out_shape == (2, 3, 3)


class WithUnused(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.unused = nn.Linear(2, 2)

    def forward(self, x):
        return self.fc(x)


def test_warnings_of_a_trace_repeat_on_cache_hits():
    model = WithUnused()
    for _ in range(2):
        with pytest.warns(UserWarning, match="'unused' is never called"):
            sg.trace(model, (3,))


def test_cache_false_and_the_cache_size_bound():
    model = nn.Sequential(nn.Linear(3, 2))
    assert sg.trace(model, (3,), cache=False) is not sg.trace(model, (3,), cache=False)
    for width in range(trace_module.CACHE_SIZE + 5):
        sg.trace(nn.Sequential(nn.Linear(width + 1, 2)), (width + 1,))
    assert len(trace_module._CACHE) == trace_module.CACHE_SIZE


def test_a_bare_conv_is_a_one_layer_topology():
    conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
    topo = sg.trace(conv, (3, 9, 9))
    assert topo.tracer == "layer" and [n.kind for n in topo.nodes] == ["input", "layer", "output"]
    (layer,) = topo.layers
    assert (layer.name, layer.param, layer.in_shape, layer.out_shape) == ("", "weight", (3, 9, 9), (8, 5, 5))
    assert (layer.stride, layer.padding, layer.kernel_size) == ((2, 2), (1, 1), (3, 3))
    same = sg.trace(nn.Conv2d(3, 4, 3, padding="same"), (3, 7, 7))
    assert same.layers[0].out_shape == (4, 7, 7) and same.layers[0].padding == (1, 1)
    with pytest.raises(UsageError, match="does not fit the bare Conv2d"):
        sg.trace(conv, (4, 9, 9))


def test_a_bare_linear_is_a_one_layer_topology_and_encodes():
    fc = nn.Linear(5, 3)
    topo = sg.trace(fc, (5,))
    assert [(l.name, l.param, l.in_shape, l.out_shape) for l in topo.layers] == [("", "weight", (5,), (3,))]
    with pytest.raises(UsageError, match="in_features"):
        sg.trace(fc, (1, 5))
    conv = nn.Conv2d(2, 3, 3, padding=1)
    mask = torch.rand(conv.weight.shape, generator=torch.Generator().manual_seed(0)) < 0.5
    graphs = sg.encode(conv, {"weight": mask}, encoding="unrolled", input_shape=(2, 5, 5))
    direct = sg.bipartite(mask, conv.weight, "unrolled", input_hw=(5, 5), stride=1, padding=1)
    assert graphs[""].num_edges == direct.num_edges
    mge = sg.encode(conv, {"weight": mask}, encoding="mge", input_shape=(2, 5, 5))
    assert mge.num_edges == direct.num_edges
