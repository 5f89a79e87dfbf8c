"""``sg.encode``: support rules, masks, unmasked layers, attributes, errors."""

import numpy as np
import pytest
import torch
from torch.nn.utils import prune

import sparsegraph as sg
from sparsegraph.errors import MaskError, UsageError


def net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(4, 6, 3, groups=2),
                               torch.nn.Flatten(), torch.nn.Linear(6, 5))


def masks_for(model, density=0.5):
    g = torch.Generator().manual_seed(1)
    return {n: torch.rand(p.shape, generator=g) < density for n, p in model.named_parameters() if n.endswith("weight")}


def test_rolled_layer_graphs_follow_the_masks():
    model = net()
    masks = masks_for(model)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    mask_copy = {k: v.clone() for k, v in masks.items()}
    graphs = sg.encode(model, masks, encoding="rolled", model_spec="tiny")
    assert all(torch.equal(masks[k], mask_copy[k]) for k in masks)
    again = sg.encode(model, masks, encoding="rolled", model_spec="tiny")
    for name in graphs:
        for column in ("src", "dst", "weight", "signed_weight", "edge_set"):
            assert getattr(graphs[name].arrays, column).tobytes() == getattr(again[name].arrays, column).tobytes()
    assert list(graphs) == ["0", "2", "4"]
    for name, g in graphs.items():
        m = masks[f"{name}.weight"]
        assert g.num_edges == int(m.sum())
        assert g.attrs["support"] == "mask" and g.attrs["model"] == "tiny" and g.attrs["encoding"] == "rolled"
    assert graphs.num_edges == sum(int(m.sum()) for m in masks.values())
    assert graphs.num_nodes == (27 + 4) + (18 + 6) + (6 + 5)
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


def test_mask_support_keeps_zero_weights_and_nonzero_drops_them():
    model = net()
    masks = masks_for(model, density=1.0)
    with torch.no_grad():
        model[4].weight[0, :3] = 0.0
    kept = sg.encode(model, masks, encoding="rolled")
    dropped = sg.encode(model, masks, encoding="rolled", support="nonzero")
    assert kept["4"].num_edges == 30 and dropped["4"].num_edges == 27
    assert dropped.attrs["support"] == "nonzero"
    assert sg.encode(model, encoding="rolled").attrs["support"] == "nonzero"


def test_layers_without_mask_are_dense_and_listed():
    model = net()
    masks = {"0.weight": torch.zeros(4, 3, 3, 3, dtype=torch.bool)}
    graphs = sg.encode(model, masks, encoding="rolled-channel")
    assert graphs["0"].num_edges == 0
    assert graphs["2"].num_edges == 6 * 2  # dense: every in-group slice, 6 outputs x 2 inputs each
    assert graphs.attrs["unmasked_layers"] == ["2", "4"]


def test_prune_buffers_are_masks():
    model = net()
    prune.l1_unstructured(model[0], "weight", amount=0.5)
    graphs = sg.encode(model, encoding="rolled")
    assert graphs.attrs["support"] == "mask"
    assert graphs["0"].num_edges == int(model[0].weight_mask.sum())
    assert graphs.attrs["unmasked_layers"] == ["2", "4"]


def test_bad_inputs():
    model = net()
    with pytest.raises(MaskError, match="0.weight"):
        sg.encode(model, {"0.weight": torch.ones(2, 2, dtype=torch.bool)}, encoding="rolled")
    with pytest.raises(MaskError, match="classifier.weight"):
        sg.encode(model, {"classifier.weight": torch.ones(2, 2, dtype=torch.bool)}, encoding="rolled")
    with pytest.raises(UsageError, match="unknown encoding 'bogus'"):
        sg.encode(model, encoding="bogus")
    with pytest.raises(UsageError, match="encoding is required"):
        sg.encode(model)
    with pytest.raises(UsageError, match="input_shape"):
        sg.encode(model, encoding="unrolled")
    with pytest.raises(UsageError, match="compat"):
        sg.encode(model, encoding="rolled", compat="mge2023")


def test_layer_graphs_union_and_split():
    graphs = sg.encode(net(), masks_for(net()), encoding="rolled")
    u = graphs.union()
    assert [p.name for p in u.partitions][:3] == ["0:in", "0:out", "2:in"]
    assert u.offsets.tolist() == [0, 27, 31, 49, 55, 61, 66]
    back = sg.LayerGraphs.from_graph(u)
    for name in graphs:
        assert np.array_equal(back[name].arrays.src, graphs[name].arrays.src)
        assert np.array_equal(back[name].arrays.dst, graphs[name].arrays.dst)


@pytest.mark.parametrize("module", [torch.nn.Conv1d(2, 3, 3), torch.nn.ConvTranspose2d(2, 3, 3),
                                    torch.nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect")])
def test_unsupported_layers_are_named(module):
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), module)
    with pytest.raises(sg.errors.UnsupportedOpError) as info:
        sg.encode(model, encoding="rolled")
    assert info.value.module == "1" and "1" in str(info.value)


def test_unrolled_resnet20_from_the_zoo():
    model = sg.create_model("resnet20")
    masks = sg.MaskSet({n: torch.rand(p.shape, generator=torch.Generator().manual_seed(i)) < 0.05
                        for i, (n, p) in enumerate(model.named_parameters()) if n.endswith("weight") and p.dim() > 1})
    graphs = sg.encode(model, masks, encoding="unrolled")  # input shape from the zoo: 3x32x32
    assert graphs.attrs["input_shape"] == [3, 32, 32] and graphs.attrs["mask_fingerprint"] == masks.fingerprint()
    assert len(graphs) == 22 and list(graphs)[:3] == ["conv1", "layer1.0.conv1", "layer1.0.conv2"]
    sizes = {name: (g.num_left, g.num_right) for name, g in graphs.items()}
    assert sizes["conv1"] == (3 * 32 * 32, 16 * 32 * 32)
    assert sizes["layer2.0.conv1"] == (16 * 32 * 32, 32 * 16 * 16)
    assert sizes["layer2.0.shortcut.0"] == (16 * 32 * 32, 32 * 16 * 16)
    assert sizes["linear"] == (64, 10)
    conv = model.get_submodule("layer2.0.conv1")
    direct = sg.bipartite(masks["layer2.0.conv1.weight"], conv.weight, "unrolled", input_hw=32, stride=2, padding=1)
    assert np.array_equal(graphs["layer2.0.conv1"].arrays.src, direct.arrays.src)
    assert np.array_equal(graphs["layer2.0.conv1"].arrays.dst, direct.arrays.dst)
    compat = sg.encode(model, masks, encoding="unrolled", compat="mge2024")
    assert compat["layer1.0.conv1"].num_left == 16 * 34 * 34           # padded grid
    assert compat["layer2.0.shortcut.0"].num_left == 16 * 32 * 32      # shortcut: block-input grid
    assert compat["layer2.0.conv1"].num_edges == int(masks["layer2.0.conv1.weight"].sum()) * 16 * 16
