"""The hooks tracer (forward hooks + autograd walk) agrees with the fx tracer."""

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

import sparsegraph as sg


def assert_agree(model, shape, **kwargs):
    fx = sg.trace(model, shape, tracer="fx", **kwargs).to_dict()
    hooks = sg.trace(model, shape, tracer="hooks", **kwargs).to_dict()
    assert (fx.pop("tracer"), hooks.pop("tracer")) == ("fx", "hooks")
    for node in fx["nodes"] + hooks["nodes"]:
        node.pop("op")  # fx target vs grad_fn class name
    assert fx == hooks
    return fx


def test_agree_on_residual_net(resnet_tiny):
    topo = assert_agree(resnet_tiny, (3, 8, 8))
    assert [n["module"] for n in topo["nodes"]] == [
        "", "conv1", "layer1.conv1", "layer1.conv2", "layer1", "layer2.conv1", "layer2.conv2", "layer2.shortcut.0",
        "layer2", "", "linear", ""]


def test_agree_on_option_a_and_inception(option_a, inception):
    assert [n["kind"] for n in assert_agree(option_a, (4, 8, 8))["nodes"]] == [
        "input", "layer", "slice", "slice", "pad", "add", "output"]
    assert len(assert_agree(inception, (3, 7, 7))["nodes"]) == 12


def test_hooks_node_parameters(inception):
    topo = sg.trace(inception, (3, 7, 7), tracer="hooks")
    assert topo.tracer == "hooks"
    assert [n.op for n in topo.nodes[3:6]] == ["CatBackward0", "MaxPool2DWithIndicesBackward0", "SplitBackward0"]
    assert topo.nodes[8].op == "AvgPool2DBackward0" and topo.nodes[8].params["kernel"] == (4, 4)
    assert topo.layer("b").inputs == (0,) and topo.layer("head").in_shape == (5,)


def test_in_place_operations_rebind():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 3, 3, padding=1)
            self.conv2 = nn.Conv2d(3, 3, 3, padding=1)

        def forward(self, x):
            y = self.conv1(x)
            out = self.conv2(y)
            out.add_(y)
            out.relu_()
            return out.flatten(1)

    topo = assert_agree(Net(), (3, 4, 4))
    assert [n["kind"] for n in topo["nodes"]] == ["input", "layer", "layer", "add", "reshape", "output"]
    assert topo["nodes"][3]["inputs"] == [2, 1] and topo["nodes"][4]["inputs"] == [3]


def test_select_transpose_unsqueeze_split_and_dead_branches():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 6, 1)
            self.fc = nn.Linear(8, 3)

        def forward(self, x):
            y = self.conv(x)
            a, b, _unused = torch.split(y, [2, 3, 1], dim=1)
            z = torch.cat([a[:, 0], b[:, 2]], dim=2)  # (N, 2, 4): select, then cat along W
            z = z.transpose(1, 2).unsqueeze(1)  # (N, 1, 4, 2)
            return self.fc(z.reshape(z.size(0), -1))

    topo = assert_agree(Net(), (2, 2, 2))
    kinds = [n["kind"] for n in topo["nodes"]]
    assert kinds == ["input", "layer", "slice", "slice", "slice", "reshape", "slice", "reshape", "cat", "reshape",
                     "reshape", "reshape", "layer", "output"]
    split_a, split_b, select_a = topo["nodes"][2:5]
    assert (split_a["params"]["start"], split_a["params"]["stop"]) == (0, 2)
    assert (split_b["params"]["start"], split_b["params"]["stop"]) == (2, 5)
    assert (select_a["params"]["start"], select_a["params"]["stop"], select_a["out_shape"]) == (0, 1, [1, 2, 2])
    assert topo["nodes"][6]["inputs"] == [3] and topo["nodes"][6]["params"]["start"] == 2
    assert topo["nodes"][8]["params"] == {"dim": 2, "sample_dim": 1}
    assert topo["nodes"][9]["params"] == {"shape": [4, 2], "perm": [1, 0]}


def test_unused_and_dead_layers():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.probe = nn.Linear(4, 1)  # called, output discarded
            self.spare = nn.Linear(4, 4)  # never called

        def forward(self, x):
            y = self.fc(x)
            self.probe(y)
            return y

    with pytest.warns(UserWarning, match="'spare' is never called"):
        topo = assert_agree(Net(), (4,))
    assert [layer["name"] for layer in topo["layers"]] == ["fc", "probe"] and topo["unused"] == ["spare"]


def test_prune_reparametrisation_is_traced():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(16, 2))
    prune.custom_from_mask(net[0], "weight", torch.arange(4 * 3 * 3 * 3).reshape(4, 3, 3, 3) % 2)
    topo = assert_agree(net, (3, 4, 4))
    assert [layer["param"] for layer in topo["layers"]] == ["0.weight", "3.weight"]


def test_tuple_output():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(3, 2)
            self.b = nn.Linear(3, 5)

        def forward(self, x):
            return self.a(x), {"aux": self.b(x)}

    topo = assert_agree(Net(), (3,))
    assert topo["nodes"][-1]["inputs"] == [1, 2] and topo["nodes"][-1]["out_shape"] == []


@pytest.mark.parametrize("name, shape", [("resnet18", (3, 64, 64)), ("vgg16_bn", (3, 32, 32))])
def test_agree_on_torchvision(name, shape):
    torchvision = pytest.importorskip("torchvision")
    topo = assert_agree(getattr(torchvision.models, name)(weights=None), shape)
    assert len(topo["layers"]) == {"resnet18": 21, "vgg16_bn": 16}[name]


def test_agree_on_torchvision_mobilenet_v2():
    torchvision = pytest.importorskip("torchvision")
    topo = assert_agree(torchvision.models.mobilenet_v2(weights=None), (3, 32, 32))
    assert len(topo["layers"]) == 53
    depthwise = [layer for layer in topo["layers"] if layer["kind"] == "conv2d" and layer["groups"] > 1]
    assert len(depthwise) == 17 and all(layer["groups"] == layer["in_channels"] for layer in depthwise)
    assert sum(node["kind"] == "add" for node in topo["nodes"]) == 10
