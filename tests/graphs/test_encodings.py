"""Per-layer encodings: the graphs.md §7 invariants, exact cross-correlation, and sizes without building."""

import numpy as np
import pytest
import torch

import sparsegraph as sg
from sparsegraph.graphs.encodings import LayerSpec, build_layer, layer_size


def random_conv(cout, cin_g, k, density=0.4, seed=0):
    g = torch.Generator().manual_seed(seed)
    kh, kw = (k, k) if isinstance(k, int) else k
    w = torch.randn(cout, cin_g, kh, kw, generator=g)
    mask = torch.rand(cout, cin_g, kh, kw, generator=g) < density
    return w, mask


def out_size(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


GEOMETRIES = [
    # cout, cin, groups, kernel, stride, padding, dilation, input (H, W)
    (4, 3, 1, 3, 1, 1, 1, (6, 6)),
    (6, 4, 1, 3, 2, 1, 1, (7, 8)),
    (6, 4, 2, 3, 2, 0, 1, (9, 9)),
    (5, 5, 5, 3, 1, 1, 1, (6, 5)),      # depthwise
    (4, 2, 1, (3, 1), (2, 1), (1, 0), (2, 1), (9, 6)),
    (8, 4, 1, 1, 2, 0, 1, (7, 7)),      # projection shortcut
    (3, 2, 1, 5, 3, 2, 2, (11, 10)),
]


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


@pytest.mark.parametrize("geom", GEOMETRIES)
def test_rolled_counts(geom):
    cout, cin, groups, k, s, p, d, hw = geom
    w, mask = random_conv(cout, cin // groups, k)
    g = sg.bipartite(mask, w, "rolled", groups=groups)
    kh, kw = pair(k)
    assert g.num_nodes == (cin // groups) * kh * kw + cout
    assert g.num_edges == int(mask.sum())
    assert g.attrs["tensor_nnz"] == int(mask.sum()) and g.attrs["tensor_numel"] == mask.numel()
    # the rolled biadjacency is F = reshape(W*mask, (Cout, -1))ᵀ
    F = (w * mask).reshape(cout, -1).T.numpy()
    assert np.array_equal(g.to_scipy("signed_weight").toarray(), F)


@pytest.mark.parametrize("geom", GEOMETRIES)
def test_rolled_channel_counts_and_norms(geom):
    cout, cin, groups, k, s, p, d, hw = geom
    w, mask = random_conv(cout, cin // groups, k)
    g = sg.bipartite(mask, w, "rolled-channel", groups=groups)
    slices = mask.any(dim=(2, 3))
    assert g.num_nodes == cin + cout
    assert g.num_edges == int(slices.sum())
    B = g.to_scipy().toarray()  # (Cin, Cout)
    cin_g, cout_g = cin // groups, cout // groups
    for o in range(cout):
        for j in range(cin):
            in_group = j // cin_g == o // cout_g
            jl = j - (o // cout_g) * cin_g
            expected = float(torch.linalg.vector_norm((w * mask)[o, jl].double())) if in_group else 0.0
            assert B[j, o] == pytest.approx(expected, rel=1e-6)
    assert np.array_equal(g.arrays.weight, g.arrays.signed_weight)
    if groups == cin == cout:
        assert np.array_equal(g.arrays.src, g.arrays.dst - cin)  # depthwise: only j -> j


def conv_jacobian(w, mask, hw, stride, padding, dilation, groups):
    """The dense (in, out) matrix of the masked conv as a linear map."""
    cin = w.shape[1] * groups
    n_in = cin * hw[0] * hw[1]
    eye = torch.eye(n_in, dtype=torch.float64).reshape(n_in, cin, *hw)
    out = torch.nn.functional.conv2d(eye, (w * mask).double(), stride=stride, padding=padding, dilation=dilation,
                                     groups=groups)
    return out.reshape(n_in, -1).numpy()


def unrolled_case(geom, seed):
    """A random masked conv of geometry ``geom``, its unrolled graph, and the (h, w) pairs
    ``kernel, stride, padding, dilation, output size``."""
    cout, cin, groups, k, s, p, d, hw = geom
    w, mask = random_conv(cout, cin // groups, k, seed=seed)
    g = sg.bipartite(mask, w, "unrolled", input_hw=hw, stride=s, padding=p, dilation=d, groups=groups)
    kh, kw = pair(k)
    (sh, sw), (ph, pw), (dh, dw) = pair(s), pair(p), pair(d)
    out = (out_size(hw[0], kh, sh, ph, dh), out_size(hw[1], kw, sw, pw, dw))
    return w, mask, g, (kh, kw), (sh, sw), (ph, pw), (dh, dw), out


@pytest.mark.parametrize("geom", GEOMETRIES)
def test_unrolled_is_exact_cross_correlation(geom):
    cout, cin, groups, k, s, p, d, hw = geom
    w, mask, g, (kh, kw), (sh, sw), (ph, pw), (dh, dw), (Ho, Wo) = unrolled_case(geom, seed=3)
    assert g.num_left == cin * hw[0] * hw[1] and g.num_right == cout * Ho * Wo
    # E = Σ_{kept taps} n_h(a)·n_w(b)
    n_h = [sum(0 <= oy * sh - ph + a * dh < hw[0] for oy in range(Ho)) for a in range(kh)]
    n_w = [sum(0 <= ox * sw - pw + b * dw < hw[1] for ox in range(Wo)) for b in range(kw)]
    per_tap = mask.sum(dim=(0, 1)).numpy()
    assert g.num_edges == int((per_tap * np.outer(n_h, n_w)).sum())
    assert g.num_edges <= int(mask.sum()) * Ho * Wo
    if p == 0:
        assert g.num_edges == int(mask.sum()) * Ho * Wo
    J = conv_jacobian(w, mask, hw, s, p, d, groups)
    assert np.array_equal(g.to_scipy("signed_weight").toarray().astype(np.float64), J.astype(np.float32))
    # canonical order: ascending (source, target)
    key = g.arrays.src * g.num_nodes + g.arrays.dst
    assert np.all(np.diff(key) > 0)
    assert layer_size(LayerSpec("l", mask.numpy(), w.numpy(), groups, pair(s), pair(p), pair(d), hw),
                      "unrolled") == (g.num_nodes, g.num_edges)


@pytest.mark.parametrize("geom", GEOMETRIES)
def test_unrolled_projects_onto_rolled(geom):
    cout, cin, groups, k, s, p, d, hw = geom
    w, mask, g, (kh, kw), (sh, sw), (ph, pw), (dh, dw), (Ho, Wo) = unrolled_case(geom, seed=5)
    H, W = hw
    src, dst = g.arrays.src, g.arrays.dst - g.num_left
    j, y, x = src // (H * W), (src // W) % H, src % W
    o, oy, ox = dst // (Ho * Wo), (dst // Wo) % Ho, dst % Wo
    a, ra = np.divmod(y - oy * sh + ph, dh)
    b, rb = np.divmod(x - ox * sw + pw, dw)
    assert not ra.any() and not rb.any()
    jl = j - (o // (cout // groups)) * (cin // groups)
    assert np.array_equal(g.arrays.signed_weight, w.numpy()[o, jl, a, b])
    projected = set(zip(((jl * kh + a) * kw + b).tolist(), o.tolist()))
    rolled = sg.bipartite(mask, w, "rolled")
    reads_real = np.outer(
        [any(0 <= oy * sh - ph + t * dh < H for oy in range(Ho)) for t in range(kh)],
        [any(0 <= ox * sw - pw + t * dw < W for ox in range(Wo)) for t in range(kw)])
    if reads_real.all():
        assert projected == set(zip(rolled.arrays.src.tolist(), (rolled.arrays.dst - rolled.num_left).tolist()))


def test_linear_is_the_same_in_every_encoding():
    w, mask = random_conv(5, 7, 1)
    w, mask = w[:, :, 0, 0], mask[:, :, 0, 0]
    graphs = [sg.bipartite(mask, w, enc) for enc in ("rolled", "rolled-channel", "unrolled")]
    for g in graphs:
        assert (g.num_left, g.num_right, g.num_edges) == (7, 5, int(mask.sum()))
        assert np.array_equal(g.arrays.src, graphs[0].arrays.src)
        assert np.array_equal(g.arrays.weight, graphs[0].arrays.weight)
    assert [g.attrs["encoding"] for g in graphs] == ["rolled", "rolled-channel", "unrolled"]


def test_support_rules_and_mask_only_weights():
    w = torch.tensor([[0.0, 2.0], [-3.0, 0.0]])
    mask = torch.tensor([[True, True], [False, False]])
    kept = sg.bipartite(mask, w)  # mask support keeps the zero weight
    assert kept.num_edges == 2 and kept.attrs["support"] == "mask"
    assert sorted(kept.arrays.signed_weight.tolist()) == [0.0, 2.0]
    nonzero = sg.bipartite(w)
    assert nonzero.num_edges == 2 and nonzero.attrs["support"] == "nonzero"
    assert sorted(nonzero.arrays.signed_weight.tolist()) == [-3.0, 2.0]
    assert sorted(nonzero.arrays.weight.tolist()) == [2.0, 3.0]
    ones = sg.bipartite(mask)
    assert not ones.weighted and ones.arrays.weight.tolist() == [1.0, 1.0]


def test_compat_rolled_uses_float16_weights():
    w, mask = random_conv(4, 3, 3)
    spec = LayerSpec("c", mask.numpy(), w.numpy())
    clean, compat = build_layer(spec, "rolled"), build_layer(spec, "rolled", "mge2024")
    assert np.array_equal(compat.arrays.src, clean.arrays.src)
    assert np.array_equal(compat.arrays.weight, np.abs(clean.arrays.signed_weight).astype(np.float16).astype(np.float32))
    assert np.array_equal(compat.arrays.signed_weight, clean.arrays.signed_weight)


def test_errors_name_the_problem():
    w, mask = random_conv(4, 3, 3)
    with pytest.raises(sg.errors.UsageError, match="input_hw"):
        sg.bipartite(mask, w, "unrolled")
    with pytest.raises(sg.errors.UsageError, match="unknown per-layer encoding 'mge'"):
        sg.bipartite(mask, w, "mge")
    with pytest.raises(ValueError, match="differ"):
        sg.bipartite(mask, w[:, :2])


def test_builders_do_not_modify_inputs_and_are_deterministic():
    w, mask = random_conv(6, 4, 3)
    w0, m0 = w.clone(), mask.clone()
    a = sg.bipartite(mask, w, "unrolled", input_hw=(5, 5), padding=1)
    b = sg.bipartite(mask, w, "unrolled", input_hw=(5, 5), padding=1)
    assert torch.equal(w, w0) and torch.equal(mask, m0)
    for f in ("src", "dst", "weight", "signed_weight", "edge_set"):
        assert getattr(a.arrays, f).tobytes() == getattr(b.arrays, f).tobytes()
