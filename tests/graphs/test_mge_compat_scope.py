"""compat="mge2024" scope errors, hygiene and converters on multipartite graphs (graphs.md §2.5, §4, §7)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import sparsegraph as sg


def random_masks(model, density, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {f"{name}.weight": torch.rand(m.weight.shape, generator=g) < density
            for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}


class Chain(nn.Module):
    def __init__(self, *layers):
        super().__init__()
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


@pytest.mark.parametrize("layers,shape,rule,module", [
    ((nn.Conv2d(1, 2, 3, padding=1), nn.MaxPool2d(2), nn.Conv2d(2, 2, 3)), (1, 6, 6),
     "first layer must not be followed directly by pooling", "layers.2"),
    ((nn.Conv2d(1, 2, 3, padding=1), nn.Conv2d(2, 2, 3), nn.Flatten(), nn.Linear(32, 3)), (1, 6, 6),
     "conv -> flatten -> linear needs a pooling", "layers.3"),
    ((nn.Conv2d(1, 2, 3, padding=1), nn.Conv2d(2, 2, 3, stride=2, padding=1), nn.Conv2d(2, 2, 3)), (1, 6, 6),
     "after the first layer must be followed later by a pooled layer", "layers.1"),
    ((nn.Conv2d(1, 2, 3, padding=1), nn.Conv2d(2, 2, 3, padding=1), nn.MaxPool2d(2), nn.Conv2d(2, 2, 3, 2, 1),
      nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2, 3)), (1, 8, 8),
     "stride-cropped conv must not read through a pooling", "layers.3"),
    ((nn.Conv2d(1, 2, 3, padding=1), nn.Conv2d(2, 2, 3, padding=1), nn.MaxPool2d(3, 2), nn.Flatten(),
      nn.Linear(8, 3)), (1, 6, 6), "partial window", "layers.2"),
    ((nn.Conv2d(1, 2, 3, padding=1, dilation=1), nn.Conv2d(2, 2, 3, padding=2, dilation=2)), (1, 6, 6),
     "dilation 1", "layers.1"),
    ((nn.Conv2d(1, 2, 3, padding=1),), (1, 6, 5), "square inputs", "input"),
])
def test_compat_scope_errors_name_layer_and_rule(layers, shape, rule, module):
    model = Chain(*layers)
    with pytest.raises(sg.errors.CompatError) as info:
        sg.encode(model, random_masks(model, 0.5), encoding="mge", input_shape=shape, compat="mge2024")
    assert rule in str(info.value) and f"'{module}'" in str(info.value)
    # the clean encoding takes all of them
    g = sg.encode(model, random_masks(model, 0.5), encoding="mge", input_shape=shape)
    assert g.num_nodes == int(np.prod(shape)) + sum(p.size for p in g.partitions[1:])


def test_compat_chain_without_padding_equals_clean():
    model = Chain(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.Conv2d(3, 4, 3), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16, 3))
    masks = random_masks(model, 0.4)
    clean = sg.encode(model, masks, encoding="mge", input_shape=(2, 8, 8))
    compat = sg.encode(model, masks, encoding="mge", input_shape=(2, 8, 8), compat="mge2024")
    assert [p.to_dict() for p in clean.partitions] == [p.to_dict() for p in compat.partitions]
    key = lambda g: np.lexsort((g.arrays.dst, g.arrays.src, g.arrays.edge_set))  # noqa: E731
    for f in ("src", "dst", "signed_weight"):
        assert np.array_equal(getattr(clean.arrays, f)[key(clean)], getattr(compat.arrays, f)[key(compat)])


def test_compat_deterministic_and_inputs_unchanged():
    model = sg.create_model("resnet20")
    masks = random_masks(model, 0.02)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    before = {k: v.clone() for k, v in masks.items()}
    a = sg.encode(model, masks, encoding="mge", input_shape=(3, 32, 32), compat="mge2024")
    b = sg.encode(model, masks, encoding="mge", input_shape=(3, 32, 32), compat="mge2024")
    for f in ("src", "dst", "weight", "signed_weight", "edge_set"):
        assert getattr(a.arrays, f).tobytes() == getattr(b.arrays, f).tobytes()
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert all(torch.equal(before[k], v) for k, v in masks.items())
    # partition 0 is the padded grid: its y, x are image coordinates, padding outside [0, 32)
    table = a.node_table()
    first = table["partition"] == 0
    assert table["y"][first].min() == -1 and table["y"][first].max() == 32


class Res(nn.Module):
    """A small residual net with a projection block (compat Q3 on 8x8) and an identity block."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 3, 3, padding=1, bias=False)
        self.b1c1 = nn.Conv2d(3, 4, 3, 2, 1, bias=False)
        self.b1c2 = nn.Conv2d(4, 4, 3, 1, 1, bias=False)
        self.sc = nn.Conv2d(3, 4, 1, 2, bias=False)
        self.b2c1 = nn.Conv2d(4, 4, 3, 1, 1, bias=False)
        self.b2c2 = nn.Conv2d(4, 4, 3, 1, 1, bias=False)
        self.fc = nn.Linear(4, 3, bias=False)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.b1c2(F.relu(self.b1c1(x))) + self.sc(x))
        x = F.relu(self.b2c2(F.relu(self.b2c1(x))) + x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


@pytest.mark.parametrize("compat", [None, "mge2024"])
def test_converters_agree(compat):
    model = Res()
    g = sg.encode(model, random_masks(model, 0.5), encoding="mge", input_shape=(2, 8, 8), compat=compat)
    assert isinstance(g, sg.MultipartiteGraph)
    a = g.arrays
    ref = sorted(zip(a.src.tolist(), a.dst.tolist(), a.weight.tolist()))
    if compat:  # Q3: b1c1 (3x3/2/p1 on 8x8) targets arrive δ = 3·(8² − 7²) = 45 ids early
        s = next(s for s in g.edge_sets if s.name == "b1c1")
        assert s.dst_partitions == (1, 2) and not any(x.kind == "identity" for x in g.edge_sets)
    A = g.to_scipy().tocoo()
    dense = np.zeros((g.num_nodes, g.num_nodes), np.float64)
    np.add.at(dense, (a.src, a.dst), a.weight)
    assert np.allclose(A.toarray(), dense)
    G = g.to_igraph()
    assert sorted(zip(*np.array(G.get_edgelist()).T.tolist(), G.es["weight"])) == ref
    hetero = g.to_pyg()
    hetero.validate(raise_on_error=True)
    got = []
    names = list(hetero.node_types)
    for (src_t, _, dst_t), store in hetero.edge_items():
        so, do = g.offsets[names.index(src_t)], g.offsets[names.index(dst_t)]
        ei = store.edge_index.numpy()
        got += list(zip((ei[0] + so).tolist(), (ei[1] + do).tolist(), store.edge_weight.tolist()))
    assert sorted(got) == ref
    nx = g.to_networkx()
    assert nx.number_of_edges() == g.num_edges and nx.number_of_nodes() == g.num_nodes
