"""Invariants of the clean MGE (graphs.md §2.4, §7) on small networks, checked against the per-layer
unrolled graphs and against brute-force member sets."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

import sparsegraph as sg
from sparsegraph.graphs.mge import estimate_size, stream_mge


def random_masks(model, density, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {f"{name}.weight": torch.rand(m.weight.shape, generator=g) < density
            for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}


def mge(model, masks, shape, **kw):
    return sg.encode(model, masks, encoding="mge", input_shape=shape, **kw)


def set_edges(g, name):
    s = next(s for s in g.edge_sets if s.name == name)
    sel = g.arrays.edge_set == s.index
    a = g.arrays
    return s, a.src[sel], a.dst[sel], a.weight[sel], a.signed_weight[sel]


def partition_of(g, ids):
    return np.searchsorted(g.offsets, ids, side="right") - 1


def check_general(g):
    """No self-loops, lower -> higher partitions, canonical order inside each set, offsets consistent."""
    a = g.arrays
    assert np.all(np.diff(g.offsets) > 0) and g.offsets[-1] == g.num_nodes
    assert not np.any(a.src == a.dst)
    assert np.all(partition_of(g, a.src) < partition_of(g, a.dst))
    assert np.all(np.diff(a.edge_set) >= 0)
    key = a.edge_set.astype(np.int64) * g.num_nodes ** 2 + a.src * g.num_nodes + a.dst
    assert np.all(np.diff(key) > 0)  # sorted, and no pair repeats inside a set
    assert [s.num_edges for s in g.edge_sets] == list(np.bincount(a.edge_set, minlength=len(g.edge_sets)))


@pytest.fixture(scope="module")
def resnet20():
    model = sg.create_model("resnet20")
    masks = random_masks(model, 0.05)
    return model, masks, mge(model, masks, (3, 32, 32))


def test_resnet20_layer_sets_are_shifted_unrolled_graphs(resnet20):
    model, masks, g = resnet20
    check_general(g)
    for name in ("conv1", "layer1.0.conv1", "layer2.0.conv1", "layer3.2.conv2"):
        module = model.get_submodule(name)
        layer = sg.bipartite(masks[name + ".weight"], module.weight, "unrolled", name=name,
                             input_hw=_input_hw(model, name),
                             stride=module.stride, padding=module.padding)
        s, src, dst, w, sw = set_edges(g, name)
        src_p, dst_p = g.partitions[s.src_partitions[0]], g.partition(name)
        assert np.array_equal(src, layer.arrays.src + src_p.offset)
        assert np.array_equal(dst, layer.arrays.dst - layer.num_left + dst_p.offset)
        assert np.array_equal(w, layer.arrays.weight) and np.array_equal(sw, layer.arrays.signed_weight)


def _input_hw(model, name):
    topo = sg.trace(model, (3, 32, 32))
    return tuple(topo.layer(name).in_shape[1:])


def test_resnet20_identity_projection_and_classifier_sets(resnet20):
    model, masks, g = resnet20
    # identity: C·H·W edges of weight 1 at the same (c, y, x), block input -> block output
    s, src, dst, w, sw = set_edges(g, "layer1.1.identity")
    src_p, dst_p = g.partitions[s.src_partitions[0]], g.partitions[s.dst_partitions[0]]
    assert (src_p.name, dst_p.name) == ("layer1.0.conv2", "layer1.1.conv2")
    assert src.size == 16 * 32 * 32 and np.all(w == 1) and np.all(sw == 1)
    assert np.array_equal(src - src_p.offset, dst - dst_p.offset)
    # projection: nnz(W_sc)·Ho·Wo edges from the block input to the block output
    s, src, dst, w, sw = set_edges(g, "layer2.0.shortcut.0")
    nnz = int(masks["layer2.0.shortcut.0.weight"].sum())
    assert s.kind == "shortcut" and src.size == nnz * 16 * 16
    assert [g.partitions[p].name for p in s.src_partitions + s.dst_partitions] == ["layer1.2.conv2", "layer2.0.conv2"]
    # global average pool: nnz(W_fc)·64 edges, each kept weight copied from all 8x8 pixels of its channel
    s, src, dst, w, sw = set_edges(g, "linear")
    mask = masks["linear.weight"].numpy()
    weight = model.linear.weight.detach().numpy()
    assert src.size == int(mask.sum()) * 64
    c = (src - g.partitions[s.src_partitions[0]].offset) // 64
    o = dst - g.partition("linear").offset
    assert np.all(mask[o, c]) and np.array_equal(sw, weight[o, c])


def test_resnet20_clean_is_deterministic_and_leaves_inputs_unchanged(resnet20):
    model, masks, g = resnet20
    state = {k: v.clone() for k, v in model.state_dict().items()}
    mask_copy = {k: v.clone() for k, v in masks.items()}
    again = mge(model, masks, (3, 32, 32))
    for f in ("src", "dst", "weight", "signed_weight", "edge_set"):
        assert getattr(again.arrays, f).tobytes() == getattr(g.arrays, f).tobytes()
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert all(torch.equal(mask_copy[k], v) for k, v in masks.items())


def test_option_a_shortcut_identity_mapping():
    model = sg.create_model("resnet20", shortcut="A")
    g = mge(model, random_masks(model, 0.01), (3, 32, 32))
    check_general(g)
    s, src, dst, w, _ = set_edges(g, "layer2.0.identity")
    # output (c, y, x) <- input (c - 8, 2y, 2x) for the 16 unpadded channels of 32
    assert src.size == 16 * 16 * 16 and np.all(w == 1)
    src_local = src - g.partition("layer1.2.conv2").offset
    dst_local = dst - g.partition("layer2.0.conv2").offset
    c, y, x = dst_local // 256, (dst_local // 16) % 16, dst_local % 16
    assert np.array_equal(src_local, (c - 8) * 1024 + 2 * y * 32 + 2 * x)
    assert set(np.unique(c)) == set(range(8, 24))
    assert sum(s.num_edges for s in g.edge_sets if s.kind == "identity") == 73_728 + 16 * 16 * 16 + 32 * 8 * 8


class PoolNet(nn.Module):
    """conv -> pool -> conv -> global pool -> linear, pooling chosen by the test."""

    def __init__(self, pool):
        super().__init__()
        self.c1 = nn.Conv2d(2, 3, 3, padding=1, bias=False)
        self.pool = pool
        self.c2 = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.fc = nn.Linear(4, 5, bias=False)

    def forward(self, x):
        x = self.c2(self.pool(F.relu(self.c1(x))))
        return self.fc(x.mean((2, 3)))


def brute_force(model, masks, H):
    """c2's edges (pair -> list of weights) from explicit member sets (Python loops: tiny nets only)."""
    pool = model.pool
    x = torch.zeros(1, 3, H, H)
    Ho = pool(x).shape[-1]
    adaptive = isinstance(pool, nn.AdaptiveMaxPool2d)
    k, s, p = (None, None, None) if adaptive else (pool.kernel_size, pool.stride, pool.padding)
    members = {}
    for c in range(3):
        for oy in range(Ho):
            for ox in range(Ho):
                if k is None:
                    ys = range((oy * H) // Ho, -((-(oy + 1) * H) // Ho))
                    xs = range((ox * H) // Ho, -((-(ox + 1) * H) // Ho))
                else:
                    ys = [oy * s - p + u for u in range(k) if 0 <= oy * s - p + u < H]
                    xs = [ox * s - p + u for u in range(k) if 0 <= ox * s - p + u < H]
                members[c, oy, ox] = {(c, y, xx) for y in ys for xx in xs}
    edges = {}
    w2, m2 = model.c2.weight.detach().numpy(), masks["c2.weight"].numpy()
    for o, j, a, b in zip(*np.nonzero(m2)):
        for oy in range(Ho):
            for ox in range(Ho):
                y, xx = oy - 1 + a, ox - 1 + b
                if 0 <= y < Ho and 0 <= xx < Ho:
                    for m in members[j, y, xx]:
                        edges.setdefault((m, (o, oy, ox)), []).append(w2[o, j, a, b])
    return edges, Ho


@pytest.mark.parametrize("pool", [nn.MaxPool2d(2), nn.MaxPool2d(3, 2, 1), nn.AvgPool2d(3, 2, ceil_mode=True),
                                  nn.AdaptiveMaxPool2d(3)], ids=["2/2", "3/2p1", "3/2ceil", "adaptive3"])
def test_pooled_sets_against_brute_force(pool):
    H = 7
    torch.manual_seed(0)
    model = PoolNet(pool)
    masks = random_masks(model, 0.5, seed=1)
    g = mge(model, masks, (2, H, H))
    check_general(g)
    expected, Ho = brute_force(model, masks, H)
    s, src, dst, w, sw = set_edges(g, "c2")
    c1, c2 = g.partition("c1"), g.partition("c2")
    got = {}
    for i in range(src.size):
        m = int(src[i] - c1.offset)
        u = int(dst[i] - c2.offset)
        got[(m // (H * H), (m // H) % H, m % H), (u // (Ho * Ho), (u // Ho) % Ho, u % Ho)] = (w[i], sw[i], i)
    assert set(got) == set(expected)
    mult = g.arrays.multiplicity
    overlapping = any(len(v) > 1 for v in expected.values())
    assert g.attrs["merged_edges"] is overlapping
    sel = np.flatnonzero(g.arrays.edge_set == s.index)
    for key, ws in expected.items():
        weight, signed, i = got[key]
        assert np.isclose(weight, np.abs(np.array(ws, np.float32)).sum(), rtol=1e-6)
        assert np.isclose(signed, np.array(ws, np.float32).sum(), rtol=1e-5, atol=1e-7)
        if overlapping:
            assert mult[sel[i]] == len(ws)
    # the classifier after the global mean: nnz(W_fc)·Ho² edges
    assert next(x for x in g.edge_sets if x.name == "fc").num_edges == int(masks["fc.weight"].sum()) * Ho * Ho
    n, e = estimate_size(model, masks, (2, H, H))
    assert n == g.num_nodes and e >= g.num_edges and (e == g.num_edges) is not overlapping


class CatAddNet(nn.Module):
    """cat of two convs; an add with no layer-output candidate (own partition); an add absorbing a conv."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(2, 3, 3, padding=1, bias=False)
        self.b = nn.Conv2d(2, 2, 1, bias=False)
        self.c = nn.Conv2d(5, 2, 3, padding=1, bias=False)
        self.d = nn.Conv2d(2, 2, 3, padding=1, bias=False)
        self.e = nn.Conv2d(2, 2, 1, bias=False)

    def forward(self, x):
        y = torch.cat([self.a(x), F.relu(self.b(x))], 1)
        c = self.c(y)
        z = c + x          # c is also read by e: no candidate, z gets the partition "add"
        return self.d(z) + self.e(c)   # d (deeper) is main, e is absorbed


def test_cat_and_add_partitions():
    model = CatAddNet()
    masks = random_masks(model, 0.6)
    g = mge(model, masks, (2, 5, 5))
    check_general(g)
    assert [p.name for p in g.partitions] == ["input", "a", "b", "c", "add", "d"]
    assert g.partition("add").kind == "add" and g.partition("add").shape == (2, 5, 5)
    names = {s.name: s for s in g.edge_sets}
    assert names["c"].src_partitions == (1, 2)  # reads cat([a, b])
    assert names["e"].kind == "shortcut" and names["e"].dst_partitions == (5,)
    s, src, dst, w, _ = set_edges(g, "identity")
    assert s.src_partitions == (0, 3) and s.dst_partitions == (4,) and src.size == 2 * 2 * 25 and np.all(w == 1)
    local_dst = dst - g.partition("add").offset
    part = partition_of(g, src)
    assert np.array_equal(np.sort(local_dst[part == 0]), np.arange(50))
    assert np.array_equal(src[part == 0] - g.partition("input").offset, local_dst[part == 0])
    # c's edges split by the cat: channel j < 3 comes from a, j >= 3 from b
    layer = sg.bipartite(masks["c.weight"], model.c.weight, "unrolled", input_hw=5, padding=1)
    j = layer.arrays.src // 25
    expected_src = np.where(j < 3, g.partition("a").offset + layer.arrays.src,
                            g.partition("b").offset + layer.arrays.src - 75)
    s, src, dst, _, _ = set_edges(g, "c")
    order = np.lexsort((layer.arrays.dst, expected_src))
    assert np.array_equal(src, expected_src[order])


def test_torchvision_resnet18_overlapping_maxpool_merges():
    model = torchvision.models.resnet18(num_classes=10)
    masks = random_masks(model, 0.02)
    g = mge(model, masks, (3, 32, 32))
    check_general(g)
    assert g.attrs["merged_edges"] is True and g.arrays.multiplicity is not None
    assert g.arrays.multiplicity.max() > 1 and g.arrays.multiplicity.min() == 1
    s = next(s for s in g.edge_sets if s.name == "layer1.0.conv1")
    sel = g.arrays.edge_set == s.index
    assert g.arrays.multiplicity[sel].max() > 1
    assert not np.any(g.arrays.multiplicity[g.arrays.edge_set != s.index] > 1)  # maxpool feeds layer1.0.conv1
    assert not any("downsample" in p.name for p in g.partitions)
    n, e = estimate_size(model, masks, (3, 32, 32))
    assert n == g.num_nodes and e > g.num_edges
    stream = stream_mge(model, masks, "mge", (3, 32, 32), None, None, None)
    assert [x.num_edges for x in stream.edge_sets] == [x.num_edges for x in g.edge_sets]
    assert stream.has_multiplicity


def test_torchvision_mobilenet_v2_builds():
    model = torchvision.models.mobilenet_v2(num_classes=10)
    masks = random_masks(model, 0.05)
    g = mge(model, masks, (3, 16, 16))
    check_general(g)
    topo = sg.trace(model, (3, 16, 16))
    owners = [p for p in g.partitions if p.kind in ("conv", "linear")]
    assert len(owners) == len(topo.layers) and g.num_nodes == 3 * 256 + sum(p.size for p in owners)
    assert sum(s.kind == "identity" for s in g.edge_sets) == 10  # inverted residuals with a skip


def test_mlp_compat_equals_clean_up_to_float16_and_order():
    model = sg.create_model("mlp", input_shape=(1, 8, 8))
    masks = random_masks(model, 0.1)
    clean = mge(model, masks, (1, 8, 8))
    compat = mge(model, masks, (1, 8, 8), compat="mge2024")
    assert [p.to_dict() for p in clean.partitions] == [p.to_dict() for p in compat.partitions]

    def canonical(g):
        order = np.lexsort((g.arrays.dst, g.arrays.src))
        return g.arrays.src[order], g.arrays.dst[order], g.arrays.signed_weight[order], g.arrays.weight[order]

    c_src, c_dst, c_signed, c_weight = canonical(clean)
    p_src, p_dst, p_signed, p_weight = canonical(compat)
    assert np.array_equal(c_src, p_src) and np.array_equal(c_dst, p_dst) and np.array_equal(c_signed, p_signed)
    assert np.array_equal(p_weight, c_weight.astype(np.float16).astype(np.float32))


@pytest.mark.parametrize("spec,kw,construct", [
    ("torchvision", {}, "maxpool"),
    ("resnet20", {"shortcut": "A"}, "slice"),
    ("mobilenet", {}, "'add' in module 'features.3'"),
])
def test_compat_error_names_the_construct(spec, kw, construct):
    if spec == "torchvision":
        model = torchvision.models.resnet18(num_classes=10)
    elif spec == "mobilenet":
        model = torchvision.models.mobilenet_v2(num_classes=10)
    else:
        model = sg.create_model(spec, **kw)
    with pytest.raises(sg.errors.CompatError, match="compat='mge2024'") as info:
        mge(model, random_masks(model, 0.01), (3, 32, 32), compat="mge2024")
    assert construct in str(info.value)


def test_export_npz_round_trip(tmp_path):
    model = PoolNet(nn.MaxPool2d(3, 2, 1))
    masks = random_masks(model, 0.5)
    g = mge(model, masks, (2, 7, 7))
    path = tmp_path / "g.npz"
    sg.export(model, masks, path, encoding="mge", input_shape=(2, 7, 7))
    back = sg.load_graph(path)
    assert back.num_nodes == g.num_nodes
    assert [p.to_dict() for p in back.partitions] == [p.to_dict() for p in g.partitions]
    ga, ba = g.arrays, back.arrays
    key = lambda a: np.lexsort((a.edge_set, a.dst, a.src))  # noqa: E731
    for f in ("src", "dst", "weight", "signed_weight"):
        assert np.array_equal(getattr(ga, f)[key(ga)], getattr(ba, f)[key(ba)])


def test_fx_and_hooks_traces_give_the_same_graph(monkeypatch):
    import functools

    import sparsegraph.topology as topology

    model = sg.create_model("resnet20", shortcut="A")
    masks = random_masks(model, 0.02)
    graphs, original = [], topology.trace
    for tracer in ("fx", "hooks"):
        monkeypatch.setattr(topology, "trace", functools.partial(original, tracer=tracer))
        graphs.append(mge(model, masks, (3, 32, 32)))
    a, b = graphs
    assert [p.to_dict() for p in a.partitions] == [p.to_dict() for p in b.partitions]
    assert [s.to_dict() for s in a.edge_sets] == [s.to_dict() for s in b.edge_sets]
    for f in ("src", "dst", "weight", "signed_weight", "edge_set"):
        assert np.array_equal(getattr(a.arrays, f), getattr(b.arrays, f))
