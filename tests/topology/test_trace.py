"""sg.trace with the fx tracer: layers, DAG structure, node parameters, model hygiene."""

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import sparsegraph as sg
from sparsegraph.errors import TraceError, UsageError


def kinds(topo):
    return [n.kind for n in topo.nodes]


def only(topo, kind):
    found = [n for n in topo.nodes if n.kind == kind]
    assert len(found) == 1, found
    return found[0]


def test_residual_net_layers_and_dag(resnet_tiny):
    topo = sg.trace(resnet_tiny, (3, 8, 8))
    assert topo.tracer == "fx" and topo.input_shape == (3, 8, 8) and topo.unused == ()
    assert [l.name for l in topo.layers] == ["conv1", "layer1.conv1", "layer1.conv2", "layer2.conv1",
                                             "layer2.conv2", "layer2.shortcut.0", "linear"]
    assert kinds(topo) == ["input", "layer", "layer", "layer", "add", "layer", "layer", "layer", "add",
                           "global_pool", "layer", "output"]
    assert [n.id for n in topo.nodes] == list(range(12))
    # identity block: the add reads conv2 (through BN) and the block input (conv1's node)
    add1 = topo.nodes[4]
    assert add1.inputs == (3, 1) and add1.module == "layer1" and add1.out_shape == (8, 8, 8)
    # projection block: conv2 and the shortcut conv, both fed by the first add
    add2 = topo.nodes[8]
    assert add2.inputs == (6, 7) and add2.module == "layer2"
    assert topo.layer("layer2.conv1").inputs == (4,) and topo.layer("layer2.shortcut.0").inputs == (4,)
    gp = topo.nodes[9]
    assert gp.params == {"type": "avg", "keepdim": False} and gp.out_shape == (16,) and gp.inputs == (8,)
    assert topo.layer("linear").inputs == (9,)
    assert topo.nodes[-1].inputs == (10,) and topo.nodes[-1].out_shape == (10,)


def test_layer_info_fields(resnet_tiny):
    topo = sg.trace(resnet_tiny, (3, 8, 8))
    sc = topo.layer("layer2.shortcut.0")
    assert sc.param == "layer2.shortcut.0.weight" and sc.kind == "conv2d" and sc.weight_shape == (16, 8, 1, 1)
    assert (sc.in_channels, sc.out_channels, sc.groups) == (8, 16, 1)
    assert (sc.kernel_size, sc.stride, sc.padding, sc.dilation) == ((1, 1), (2, 2), (0, 0), (1, 1))
    assert (sc.in_shape, sc.out_shape) == ((8, 8, 8), (16, 4, 4))
    assert sc.node == 7 and topo.node(7).params == {"name": "layer2.shortcut.0"}
    fc = topo.layer("linear")
    assert (fc.kind, fc.in_features, fc.out_features, fc.groups, fc.kernel_size) == ("linear", 16, 10, 1, None)
    assert (fc.in_shape, fc.out_shape, fc.weight_shape) == ((16,), (10,), (10, 16))


def test_predecessors(resnet_tiny):
    topo = sg.trace(resnet_tiny, (3, 8, 8))
    assert topo.predecessors("conv1") == ["input"]
    assert topo.predecessors("layer1.conv1") == ["conv1"]
    # through the identity add: the block's conv2 and the block input
    assert topo.predecessors("layer2.conv1") == ["conv1", "layer1.conv2"]
    assert topo.predecessors("linear") == ["layer2.conv2", "layer2.shortcut.0"]
    with pytest.raises(KeyError, match="nope"):
        topo.layer("nope")


def test_option_a_shortcut_slices_and_pad(option_a):
    topo = sg.trace(option_a, (4, 8, 8))
    assert kinds(topo) == ["input", "layer", "slice", "slice", "pad", "add", "output"]
    s_h, s_w, pad, add = topo.nodes[2:6]
    assert s_h.params == {"dim": 2, "sample_dim": 1, "start": 0, "stop": 7, "step": 2} and s_h.inputs == (0,)
    assert s_w.params == {"dim": 3, "sample_dim": 2, "start": 0, "stop": 7, "step": 2} and s_w.out_shape == (4, 4, 4)
    assert pad.params == {"pad": (0, 0, 0, 0, 2, 2)} and pad.out_shape == (8, 4, 4) and pad.module == "shortcut"
    assert add.inputs == (1, 4)


def test_cat_pool_chunk_and_size_dependent_pool(inception):
    topo = sg.trace(inception, (3, 7, 7))
    assert kinds(topo) == ["input", "layer", "layer", "cat", "pool", "slice", "slice", "add", "pool", "reshape",
                           "layer", "output"]
    b = topo.layer("b")
    assert b.padding == (1, 1) and b.out_shape == (6, 7, 7)  # padding='same' resolved
    cat = topo.nodes[3]
    assert cat.inputs == (1, 2) and cat.params == {"dim": 1, "sample_dim": 0} and cat.out_shape == (10, 7, 7)
    pool = topo.nodes[4]
    assert pool.params == {"type": "max", "kernel": (3, 3), "stride": (2, 2), "padding": (1, 1),
                           "dilation": (1, 1), "ceil_mode": True}
    assert pool.module == "pool" and pool.out_shape == (10, 4, 4)
    left, right = topo.nodes[5:7]
    assert (left.params["start"], left.params["stop"], right.params["start"], right.params["stop"]) == (0, 5, 5, 10)
    # z = left * 2.0 + right: the constant product is transparent, the add has two operands
    assert topo.nodes[7].inputs == (5, 6)
    gap = topo.nodes[8]  # F.avg_pool2d(z, z.size(3)) with the concrete size 4
    assert gap.kind == "pool" and gap.params["kernel"] == (4, 4) and gap.params["stride"] == (4, 4)
    flat = topo.nodes[9]  # z.view(z.size(0), -1)
    assert flat.params == {"shape": (5,), "perm": None} and flat.out_shape == (5,)


@pytest.mark.parametrize("pooling, expected", [
    (lambda x: F.adaptive_avg_pool2d(x, (1, 1)).flatten(1), ("global_pool", {"type": "avg", "keepdim": True})),
    (lambda x: nn.functional.adaptive_max_pool2d(x, 1).flatten(1), ("global_pool", {"type": "max", "keepdim": True})),
    (lambda x: x.mean((2, 3)), ("global_pool", {"type": "avg", "keepdim": False})),
    (lambda x: torch.mean(x, dim=[-1, -2]), ("global_pool", {"type": "avg", "keepdim": False})),
    (lambda x: x.amax(dim=(2, 3), keepdim=True).flatten(1), ("global_pool", {"type": "max", "keepdim": True})),
    (lambda x: x.sum((2, 3)), ("global_pool", {"type": "sum", "keepdim": False})),
    (lambda x: F.adaptive_avg_pool2d(x, (2, 1)).flatten(1), ("adaptive_pool", {"type": "avg", "output_size": (2, 1)})),
])
@pytest.mark.parametrize("tracer", ["fx", "hooks"])
def test_global_and_adaptive_pooling(pooling, expected, tracer):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 4, 3, padding=1)

        def forward(self, x):
            return pooling(self.conv(x))

    topo = sg.trace(Net(), (2, 5, 5), tracer=tracer)
    node = topo.nodes[2]
    assert (node.kind, node.params) == expected and node.inputs == (1,)


def test_module_pools_and_flatten_and_ceil():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.AvgPool2d(2, stride=1, padding=1, ceil_mode=True),
                        nn.AdaptiveAvgPool2d((3, 2)), nn.Flatten(), nn.Linear(12, 3))
    topo = sg.trace(net, (1, 6, 6))
    assert kinds(topo) == ["input", "layer", "pool", "adaptive_pool", "reshape", "layer", "output"]
    assert topo.nodes[2].params == {"type": "avg", "kernel": (2, 2), "stride": (1, 1), "padding": (1, 1),
                                    "dilation": (1, 1), "ceil_mode": True}
    assert topo.nodes[2].out_shape == (2, 5, 5)
    assert topo.nodes[3].params == {"type": "avg", "output_size": (3, 2)}
    assert topo.nodes[4].params == {"shape": (12,), "perm": None}
    assert [l.name for l in topo.layers] == ["0", "4"] and topo.layer("4").in_shape == (12,)


def test_permute_and_transparent_ops():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 3, 1)
            self.drop = nn.Dropout(0.5)
            self.fc = nn.Linear(3 * 2 * 4, 5)

        def forward(self, x):
            y = torch.sigmoid(self.drop(self.conv(x))).contiguous().clone().to(torch.float32) / 3.0 + 1.0
            y = y.permute(0, 2, 3, 1)  # (N, H, W, C)
            return F.log_softmax(self.fc(y.reshape(1, -1)), dim=1)

    topo = sg.trace(Net(), (2, 4, 2))
    assert kinds(topo) == ["input", "layer", "reshape", "reshape", "layer", "output"]
    assert topo.nodes[2].params == {"shape": (4, 2, 3), "perm": (1, 2, 0)}
    assert topo.nodes[3].params == {"shape": (24,), "perm": None}


def test_identity_reshapes_and_full_slices_vanish():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(6, 6)
            self.fc2 = nn.Linear(6, 2)

        def forward(self, x):
            y = self.fc1(x.flatten(1))[:, :]
            return self.fc2(F.pad(y.view(1, 6), (0, 0)))

    topo = sg.trace(Net(), (6,))
    assert kinds(topo) == ["input", "layer", "layer", "output"]


def test_unused_layers_warn():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.used = nn.Linear(4, 2)
            self.spare = nn.Linear(4, 2)

        def forward(self, x):
            return self.used(x)

    with pytest.warns(UserWarning, match="'spare' is never called"):
        topo = sg.trace(Net(), (4,))
    assert topo.unused == ("spare",) and [l.name for l in topo.layers] == ["used"]


def test_leaf_modules_are_transparent_and_hide_inner_layers():
    class Gate(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return x * torch.sigmoid(self.fc(x.mean((2, 3))))[:, :, None, None]

    net = nn.Sequential(nn.Conv2d(3, 4, 3), Gate(), nn.Flatten(), nn.Linear(4 * 4 * 4, 2))
    with pytest.raises(sg.errors.UnsupportedOpError):
        sg.trace(net, (3, 6, 6), tracer="fx")
    for tracer in ("fx", "hooks"):
        with pytest.warns(UserWarning, match="'1.fc' is only called inside a leaf module"):
            topo = sg.trace(net, (3, 6, 6), tracer=tracer, leaf_modules=[Gate])
        assert kinds(topo) == ["input", "layer", "reshape", "layer", "output"]
        assert topo.unused == ("1.fc",) and topo.nodes[2].inputs == (1,)


def test_model_state_unchanged(resnet_tiny):
    resnet_tiny.train()
    resnet_tiny.layer1.bn1.eval()
    flags = {name: m.training for name, m in resnet_tiny.named_modules()}
    before = {k: v.clone() for k, v in resnet_tiny.state_dict().items()}
    for tracer in ("fx", "hooks"):
        sg.trace(resnet_tiny, (3, 8, 8), tracer=tracer)
        assert {name: m.training for name, m in resnet_tiny.named_modules()} == flags
        after = resnet_tiny.state_dict()
        assert all(torch.equal(before[k], after[k]) for k in before)
        assert all(p.grad is None for p in resnet_tiny.parameters())
        assert not resnet_tiny._forward_hooks and not resnet_tiny.conv1._forward_pre_hooks


def test_to_dict_is_json_and_summary(resnet_tiny):
    topo = sg.trace(resnet_tiny, (3, 8, 8))
    data = json.loads(json.dumps(topo.to_dict()))
    assert data["format"] == "sparsegraph.topology/1" and data["tracer"] == "fx"
    assert data["input_shape"] == [3, 8, 8] and len(data["layers"]) == 7 and len(data["nodes"]) == 12
    assert data["layers"][3]["stride"] == [2, 2] and data["nodes"][4]["inputs"] == [3, 1]
    text = topo.summary()
    assert "7 prunable layers, 12 nodes" in text
    assert "layer2.shortcut.0  conv2d  16x8x1x1" in text


def test_auto_falls_back_to_hooks(data_dependent):
    with pytest.raises(TraceError, match="control flow"):
        sg.trace(data_dependent, (3, 6, 6), tracer="fx")
    topo = sg.trace(data_dependent, (3, 6, 6))
    assert topo.tracer == "hooks"
    assert kinds(topo) == ["input", "layer", "global_pool", "reshape", "layer", "output"]
    assert topo.layer("conv").out_shape == (4, 4, 4)


def test_bad_arguments(resnet_tiny):
    with pytest.raises(UsageError, match="unknown tracer"):
        sg.trace(resnet_tiny, (3, 8, 8), tracer="jit")
    with pytest.raises(UsageError, match="input_shape"):
        sg.trace(resnet_tiny, (3, 0, 8))
    with pytest.raises(UsageError, match="leaf_modules"):
        sg.trace(resnet_tiny, (3, 8, 8), leaf_modules=["Block"])


def test_torchvision_resnet18():
    torchvision = pytest.importorskip("torchvision")
    topo = sg.trace(torchvision.models.resnet18(weights=None), (3, 64, 64))
    assert len(topo.layers) == 21 and topo.unused == ()
    conv1 = topo.layer("conv1")
    assert conv1.out_shape == (64, 32, 32) and conv1.padding == (3, 3) and conv1.stride == (2, 2)
    maxpool = topo.node(conv1.node + 1)
    assert maxpool.kind == "pool" and maxpool.params["kernel"] == (3, 3) and maxpool.out_shape == (64, 16, 16)
    fc = topo.layer("fc")
    assert fc.in_shape == (512,) and fc.in_features == 512
    assert topo.node(fc.inputs[0]).kind == "reshape"
    assert topo.node(topo.node(fc.inputs[0]).inputs[0]).kind == "global_pool"
    down = topo.layer("layer2.0.downsample.0")
    assert down.in_shape == (64, 16, 16) and down.out_shape == (128, 8, 8)
    add = topo.node(topo.layer("layer2.1.conv1").inputs[0])
    assert add.kind == "add" and [topo.node(i).params.get("name") for i in add.inputs] == [
        "layer2.0.conv2", "layer2.0.downsample.0"]
    assert sum(n.kind == "add" for n in topo.nodes) == 8


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_model_traces_like_cpu(resnet_tiny):
    def strip(topo):
        data = topo.to_dict()
        for node in data["nodes"]:
            node.pop("op")  # e.g. CudnnBatchNormBackward0 on CUDA
        return data

    expected = {t: strip(sg.trace(resnet_tiny, (3, 8, 8), tracer=t)) for t in ("fx", "hooks")}
    resnet_tiny.cuda()
    for tracer, data in expected.items():
        assert strip(sg.trace(resnet_tiny, (3, 8, 8), tracer=tracer)) == data
    assert all(p.is_cuda for p in resnet_tiny.parameters())
