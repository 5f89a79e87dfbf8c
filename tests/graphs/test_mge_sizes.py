"""Node counts and partition tables of the MGE on the zoo (graphs.md §2.4, §2.5, §6, §7).

N depends only on the trace, so very sparse random masks keep these tests fast.
"""

import numpy as np
import pytest
import torch
from torch import nn

import sparsegraph as sg
from sparsegraph.graphs.mge import estimate_size


def sparse_masks(model, density=0.001, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {f"{name}.weight": torch.rand(m.weight.shape, generator=g) < density
            for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}


def encode(name, compat=None, **kw):
    model = sg.create_model(name, **kw)
    return sg.encode(model, sparse_masks(model), encoding="mge", input_shape=(3, 32, 32), compat=compat)


@pytest.mark.parametrize("name,clean,compat", [
    ("resnet20", 191_498, 191_894), ("resnet32", 306_186, 306_582), ("wrn28_2", 478_218, 478_614),
    ("conv6", 232_970, 233_366), ("resnet18", 560_138, 560_534)])
def test_node_counts(name, clean, compat):
    assert encode(name).num_nodes == clean
    assert encode(name, "mge2024").num_nodes == compat


def test_resnet20_clean_partitions_and_identity_sets():
    g = encode("resnet20")
    sizes = [p.size for p in g.partitions]
    assert len(sizes) == 21
    assert sizes == [3072] + [16384] * 7 + [8192] * 6 + [4096] * 6 + [10]
    assert [p.name for p in g.partitions][:3] == ["input", "conv1", "layer1.0.conv1"]
    assert not any("shortcut" in p.name for p in g.partitions)
    identity = [s for s in g.edge_sets if s.kind == "identity"]
    assert [s.name for s in identity] == ["layer1.0.identity", "layer1.1.identity", "layer1.2.identity",
                                          "layer2.1.identity", "layer2.2.identity", "layer3.1.identity",
                                          "layer3.2.identity"]
    assert sum(s.num_edges for s in identity) == 73_728
    assert np.array_equal(np.diff(g.offsets), sizes)


def test_resnet20_compat_q3_and_no_identity_edges():
    model = sg.create_model("resnet20")
    masks = sparse_masks(model)
    for layer in ("layer2.0.conv1", "layer3.0.conv1"):  # dense: every target of the layer is reached
        masks[layer + ".weight"] = torch.ones_like(masks[layer + ".weight"])
    g = sg.encode(model, masks, encoding="mge", input_shape=(3, 32, 32), compat="mge2024")
    assert len(g.partitions) == 21 and g.partitions[0].size == 3 * 34 * 34 and g.partitions[0].pad == 1
    assert not any(s.kind == "identity" for s in g.edge_sets)
    names = [p.name for p in g.partitions]
    for layer, delta in (("layer2.0.conv1", 1008), ("layer3.0.conv1", 992)):
        t = names.index(layer) - 1  # the unit's left partition
        s = next(s for s in g.edge_sets if s.name == layer)
        sel = g.arrays.edge_set == s.index
        dst = np.unique(g.arrays.dst[sel])
        start = g.offsets[t + 1] - delta  # targets arrive delta ids early
        assert np.array_equal(dst, np.arange(start, start + g.partitions[t + 1].size))
        src_part = np.searchsorted(g.offsets, g.arrays.src[sel], side="right") - 1
        dst_part = np.searchsorted(g.offsets, g.arrays.dst[sel], side="right") - 1
        assert int(((src_part == t) & (dst_part == t)).sum()) > 0  # edges t -> t
        assert s.dst_partitions == (t, t + 1)
    assert np.all(np.abs(g.arrays.weight).astype(np.float16).astype(np.float32) == g.arrays.weight)


@pytest.mark.parametrize("name", ["resnet20", "conv6"])
@pytest.mark.parametrize("compat", [None, "mge2024"])
def test_estimate_is_exact_without_merges(name, compat):
    model = sg.create_model(name)
    masks = sparse_masks(model, 0.01)
    g = sg.encode(model, masks, encoding="mge", input_shape=(3, 32, 32), compat=compat)
    assert estimate_size(model, masks, (3, 32, 32), compat) == (g.num_nodes, g.num_edges)


def test_size_limit_checked_before_building():
    model = sg.create_model("resnet20")
    with pytest.raises(sg.errors.GraphTooLargeError) as info:
        # 3 MB: above the trace (about 2.6 MiB, checked first), below the graph
        sg.encode(model, sparse_masks(model, 0.02), encoding="mge", input_shape=(3, 32, 32), max_bytes="3MB")
    err = info.value
    assert err.num_nodes == 191_498 and err.limit_bytes == 3 * 10**6 and err.estimate_bytes > err.limit_bytes
    assert "191,498 nodes" in str(err)
