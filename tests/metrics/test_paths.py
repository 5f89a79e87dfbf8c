"""paths.* (metrics.md §5): reference cases under both conventions, §9 closed forms and invariants."""

import math

import pytest
import torch
from torch import nn

import sparsegraph as sg
import sparsegraph.metrics.path_counting as path_counting
from sparsegraph.errors import MetricError
from sparsegraph.metrics import compute_detailed, measure
from sparsegraph.metrics.path_counting import run_passes

METRICS = ("paths.log10_paths", "paths.effective_nodes", "paths.effective_weights", "paths.effective_sparsity")
CASES = ("mlp_2_2_2_hand", "mlp3_dead_neurons", "conv2_flatten_linear", "resnet_mini_basicblock")


def _values(model, masks, shape, **options):
    return {m: compute_detailed(m, (model, masks), input_shape=shape, **options) for m in METRICS}


def _check(metric, got, ref):
    if metric == "paths.log10_paths":
        assert abs(got - ref) <= 1e-9
    elif metric == "paths.effective_sparsity":
        assert abs(got - ref) <= 1e-12
    else:
        assert got == ref


def _random_masks(model, density, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return {n: torch.rand(p.shape, generator=gen) < density for n, p in model.named_parameters()
            if n.endswith("weight") and p.dim() in (2, 4)}


def _mlp(*widths, bias=False):
    layers = [nn.Flatten()]
    for a, b in zip(widths, widths[1:]):
        layers += [nn.Linear(a, b, bias=bias), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


# ------------------------------------------------------------------------------------- reference cases
@pytest.mark.parametrize("convention", ["exact", "npb2023"])
@pytest.mark.parametrize("case", CASES)
def test_reference_values(paths_refcases, case, convention):
    model, masks, shape, doc, _ = paths_refcases[case]
    got = _values(model, masks, shape, convention=convention)
    for metric, ref in doc["expected"][convention].items():
        assert got[metric].status == "ok"
        _check(metric, got[metric].value, ref)
    per_layer = doc["details"][convention]["effective_weights_per_layer"]
    assert dict(got["paths.effective_weights"].per_layer) == {k: float(v) for k, v in per_layer.items()}


@pytest.mark.parametrize("case", CASES)
def test_reference_exact_node_breakdown(paths_refcases, case):
    model, masks, shape, doc, _ = paths_refcases[case]
    rows = compute_detailed("paths.effective_nodes", (model, masks), input_shape=shape).per_layer
    for tensor in doc["details"]["exact"]["effective_nodes_per_tensor"]:
        for consumer in tensor["consumers"]:
            assert rows[consumer] == tensor["effective"], (tensor, consumer)
    assert compute_detailed("paths.effective_nodes", (model, masks), input_shape=shape,
                            include_output=False).value == doc["expected"]["exact"]["paths.effective_nodes"] - \
        doc["details"]["exact"]["effective_nodes_per_tensor"][-1]["effective"]


@pytest.mark.parametrize("case", CASES)
def test_reference_npb2023_node_rows(paths_refcases, case):
    model, masks, shape, doc, _ = paths_refcases[case]
    result = compute_detailed("paths.effective_nodes", (model, masks), input_shape=shape, convention="npb2023")
    table = iter(doc["details"]["npb2023"]["effective_nodes_table"])  # conv: one row; linear: inputs, outputs
    for layer in doc["layers"]:
        name = layer["layer"]
        if layer["type"] == "Linear":
            inputs, outputs = next(table)[1], next(table)[1]
            assert result.per_layer[name] == inputs + outputs
            assert result.extras["linear_split"][name] == {"inputs": inputs, "outputs": outputs}
        elif "shortcut" in name:
            assert result.per_layer[name].status == "undefined"
        else:
            assert result.per_layer[name] == next(table)[1]
    assert next(table, None) is None


@pytest.mark.parametrize("threshold", [0.0, 1.0])
@pytest.mark.parametrize("case", CASES)
def test_sparse_and_dense_routes_agree_with_the_reference(paths_refcases, monkeypatch, case, threshold):
    monkeypatch.setattr(path_counting, "SPARSE_DENSITY", threshold)
    model, masks, shape, doc, effective = paths_refcases[case]
    passes = run_passes(model, masks, shape)
    assert abs(passes.log10_paths - doc["expected"]["exact"]["paths.log10_paths"]) <= 1e-9
    for layer in passes.layers:
        assert torch.equal(passes.effective[layer], effective["exact"][passes.params[layer]])


def test_routes_agree_on_resnet20(monkeypatch):
    model = sg.create_model("resnet20")
    masks = _random_masks(model, 0.05)
    results = []
    for threshold in (0.0, 1.0):
        monkeypatch.setattr(path_counting, "SPARSE_DENSITY", threshold)
        results.append(run_passes(model, masks, (3, 32, 32)))
    dense, sparse = results
    assert abs(dense.log10_paths - sparse.log10_paths) <= 1e-12 * dense.log10_paths
    assert all(torch.equal(dense.effective[n], sparse.effective[n]) for n in dense.layers)
    assert dense.input_units == sparse.input_units


# ---------------------------------------------------------------------------------------- closed forms
def test_hand_mlp_closed_form():
    model = _mlp(2, 2, 2)
    masks = {"1.weight": torch.tensor([[1, 1], [0, 0]]), "3.weight": torch.tensor([[1, 1], [1, 0]])}
    got = _values(model, masks, (2,))
    assert got["paths.log10_paths"].value == pytest.approx(math.log10(4), abs=1e-12)
    assert got["paths.log10_paths"].extras["paths"] == 4.0
    assert got["paths.effective_weights"].value == 4.0
    assert got["paths.effective_weights"].extras == {"kept": 5, "numel": 8}
    assert got["paths.effective_sparsity"].value == 0.5
    assert got["paths.effective_nodes"].value == 5.0
    assert compute_detailed("paths.effective_nodes", (model, masks), input_shape=(2,), include_input=False,
                            include_output=False).value == 1.0
    # the input leaves the total but stays in the first layer's row
    no_input = compute_detailed("paths.effective_nodes", (model, masks), input_shape=(2,), include_input=False)
    assert no_input.value == 3.0 and no_input.per_layer["1"] == 2.0
    assert compute_detailed("paths.effective_nodes", (model, masks), input_shape=(2,),
                            convention="npb2023").value == 6.0


def test_dense_mlp_closed_form():
    widths = (3, 4, 5, 2)
    got = _values(_mlp(*widths), None, (3,))
    assert got["paths.log10_paths"].extras["paths"] == 3 * 4 * 5 * 2
    assert got["paths.effective_weights"].value == 3 * 4 + 4 * 5 + 5 * 2
    assert got["paths.effective_sparsity"].value == 0.0
    assert got["paths.effective_nodes"].value == sum(widths)


@pytest.mark.parametrize("stride", [1, 2])
def test_single_dense_conv_closed_form(stride):
    conv = nn.Sequential(nn.Conv2d(2, 3, (2, 3), stride=stride, bias=False))
    ho, wo = (7 - 2) // stride + 1, (6 - 3) // stride + 1
    got = compute_detailed("paths.log10_paths", (conv, None), input_shape=(2, 7, 6))
    assert got.extras["paths"] == 3 * 2 * 2 * 3 * ho * wo


def test_weight_reading_only_padding_is_never_effective():
    conv = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, bias=False), nn.Flatten())
    for convention in ("exact", "npb2023"):
        eff = sg.effective_masks(conv, None, (1, 1, 1), convention=convention)["0.weight"]
        expected = torch.zeros(2, 1, 3, 3, dtype=torch.bool)
        expected[:, :, 1, 1] = True
        assert torch.equal(eff, expected)
    assert compute_detailed("paths.log10_paths", (conv, None), input_shape=(1, 1, 1)).extras["paths"] == 2.0


def test_zeroed_layer_has_no_path():
    model = _mlp(4, 3, 2)
    masks = {"1.weight": torch.ones(3, 4), "3.weight": torch.zeros(2, 3)}
    got = _values(model, masks, (4,))
    assert got["paths.log10_paths"].status == "undefined"
    assert got["paths.log10_paths"].reason == "no input→output path"
    assert got["paths.effective_weights"].value == 0.0
    assert got["paths.effective_nodes"].value == 0.0
    assert got["paths.effective_sparsity"].value == 1.0
    assert compute_detailed("paths.log10_paths", (model, masks), input_shape=(4,),
                            convention="npb2023").status == "undefined"


def test_residual_block_with_zeroed_branch_keeps_paths():
    model = sg.create_model("resnet20")
    masks = {n: torch.ones(p.shape, dtype=torch.bool) for n, p in model.named_parameters()
             if n.endswith("weight") and p.dim() in (2, 4)}
    masks["layer1.0.conv2.weight"][:] = False
    result = compute_detailed("paths.effective_weights", (model, masks))
    assert compute_detailed("paths.log10_paths", (model, masks)).status == "ok"
    assert result.per_layer["layer1.0.conv1"] == 0.0 and result.per_layer["layer1.0.conv2"] == 0.0
    assert result.per_layer["layer1.1.conv1"] == masks["layer1.1.conv1.weight"].numel()
    nodes = compute_detailed("paths.effective_nodes", (model, masks)).per_layer
    assert nodes["layer1.0.conv1"] == 16.0  # the block input still reaches the output through the skip


def test_conservation_and_monotonicity():
    model = sg.create_model("resnet20")
    small = _random_masks(model, 0.05, seed=1)
    gen = torch.Generator().manual_seed(2)
    large = {n: m | (torch.rand(m.shape, generator=gen) < 0.05) for n, m in small.items()}
    p_small, p_large = run_passes(model, small, (3, 32, 32)), run_passes(model, large, (3, 32, 32))
    for passes in (p_small, p_large):
        forward, backward = passes.log_conservation
        assert abs(forward - backward) <= 1e-12 * abs(forward)  # Σ_out f = Σ_in b = P
        for layer in passes.layers:
            assert passes.effective[layer].sum() <= passes.kept[layer]
    assert p_large.log10_paths >= p_small.log10_paths
    eff = compute_detailed("paths.effective_sparsity", (model, small))
    kept = sum(int(m.sum()) for m in small.values())
    assert eff.value >= 1 - kept / sum(m.numel() for m in small.values())


def test_deep_mlp_beyond_float64_has_a_finite_log10():
    depth, width = 160, 100  # P = 100**161 = 10**322
    model = _mlp(*([width] * (depth + 1)))
    result = compute_detailed("paths.log10_paths", (model, None), input_shape=(width,))
    assert abs(result.value - 2 * (depth + 1)) <= 1e-9
    assert result.extras["paths"] == math.inf
    # npb2023 computes in plain float64: undefined, and after the overflow pruned weights count (NaN)
    masks = {n: torch.ones(width, width, dtype=torch.bool) for n, _ in model.named_parameters()}
    masks["1.weight"][0, 0] = False
    npb = _values(model, masks, (width,), convention="npb2023")
    assert npb["paths.log10_paths"].status == "undefined"
    assert npb["paths.effective_weights"].value == depth * width * width


def test_pooling_is_a_window_sum():
    net = nn.Sequential(nn.Conv2d(1, 1, 1, bias=False), nn.MaxPool2d(2), nn.AvgPool2d(2, ceil_mode=True),
                        nn.AdaptiveAvgPool2d(2), nn.Flatten())
    # 6x6 -> max 3x3 (each cell 4 pixels) -> avg ceil 2x2 (windows of 2x2, 2x1, 1x2, 1x1 cells)
    # -> adaptive 2x2 on 2x2 (identity): every pixel lies on exactly one path
    assert compute_detailed("paths.log10_paths", (net, None), input_shape=(1, 6, 6)).extras["paths"] == 36.0


# --------------------------------------------------------------------------------- options and measure
def test_measure_computes_the_passes_once(paths_refcases, monkeypatch):
    import sparsegraph.metrics.paths as paths

    calls = []
    original = paths.run_passes
    monkeypatch.setattr(paths, "run_passes", lambda *a, **k: calls.append(1) or original(*a, **k))
    model, masks, shape, doc, _ = paths_refcases["resnet_mini_basicblock"]
    result = measure(model, masks, "paths", input_shape=shape)
    assert len(calls) == 1
    assert result.value("paths.effective_weights") == 328.0
    assert result.value("paths.effective_weights", "fc") == 12.0
    assert not any(r["metric"] == "paths.log10_paths" and r["layer"] is not None for r in result.rows)


def test_exclude_changes_rows_and_counts_but_not_paths(paths_refcases):
    model, masks, shape, doc, _ = paths_refcases["resnet_mini_basicblock"]
    result = measure(model, masks, "paths", input_shape=shape, exclude=["fc"])
    assert result.value("paths.log10_paths") == pytest.approx(doc["expected"]["exact"]["paths.log10_paths"],
                                                              abs=1e-9)
    assert result.value("paths.effective_weights") == 328.0 - 12.0
    assert result.value("paths.effective_nodes") == 29.0 - 7.0
    assert result.value("paths.effective_sparsity") == 1 - 316 / (1316 - 24)
    direct = compute_detailed("paths.effective_weights", (model, masks), input_shape=shape, exclude=["fc"])
    assert direct.value == 316.0 and "fc" not in direct.per_layer


def test_errors():
    with pytest.raises(MetricError, match="input_shape is required"):
        compute_detailed("paths.log10_paths", (_mlp(2, 2), None))

    class Square(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            y = self.fc(x)
            return y * y

    with pytest.raises(MetricError, match="paths: unsupported operation"):
        compute_detailed("paths.log10_paths", (Square(), None), input_shape=(2,))
    with pytest.raises(TypeError, match=r"needs a \(model, masks\) target"):
        compute_detailed("paths.log10_paths", sg.bipartite(torch.eye(2, dtype=torch.bool)))


@pytest.mark.parametrize("name", sg.list_models())
def test_zoo_models_at_small_density(name):
    _zoo_check(name)


def _zoo_check(name):
    model = sg.create_model(name)
    masks = _random_masks(model, 0.02)
    passes = run_passes(model, masks, model.input_shape)
    forward, backward = passes.log_conservation
    assert forward is not None and math.isfinite(forward)
    assert abs(forward - backward) <= 1e-12 * max(1.0, abs(forward))
    assert all(int(passes.effective[n].sum()) <= passes.kept[n] for n in passes.layers)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_agrees_with_cpu():
    model = sg.create_model("resnet20")
    masks = _random_masks(model, 0.05)
    cpu = run_passes(model, masks, (3, 32, 32), device="cpu")
    gpu = run_passes(model, {n: m.cuda() for n, m in masks.items()}, (3, 32, 32))
    assert abs(cpu.log10_paths - gpu.log10_paths) <= 1e-9
    assert all(torch.equal(cpu.effective[n], gpu.effective[n].cpu()) for n in cpu.layers)
    assert cpu.input_units == gpu.input_units


def test_npb2023_matches_exact_without_biases_and_max_pooling():
    # resnet20: bias-free convs, AdaptiveAvgPool2d (a true sum under the patch); the classifier's bias adds
    # 10 paths (npb2023 only), far below the resolution of log10 P, and no weight becomes effective by it
    model = sg.create_model("resnet20")
    assert all(m.bias is None for m in model.modules() if isinstance(m, nn.Conv2d))
    masks = _random_masks(model, 0.1)
    exact, npb = (_values(model, masks, None, convention=c) for c in ("exact", "npb2023"))
    assert npb["paths.log10_paths"].value == pytest.approx(exact["paths.log10_paths"].value, abs=1e-9)
    assert dict(npb["paths.effective_weights"].per_layer) == dict(exact["paths.effective_weights"].per_layer)
    found = [sg.effective_masks(model, masks, convention=c) for c in ("exact", "npb2023")]
    assert all(torch.equal(found[0][n], found[1][n]) for n in found[0])


def test_npb2023_counts_bias_paths():
    model = _mlp(3, 4, 2, bias=True)
    got = compute_detailed("paths.log10_paths", (model, None), input_shape=(3,), convention="npb2023")
    assert got.extras["paths"] == 3 * 4 * 2 + 4 * 2 + 2  # input paths, paths from h biases, output biases


class _Branchy(nn.Module):
    """Grouped, depthwise and dilated convs, concatenation, slicing, zero padding and a permute."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
        self.depthwise = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=8, bias=False)
        self.grouped = nn.Conv2d(8, 6, 1, groups=2, bias=False)
        self.head = nn.Linear(14 * 6 * 4, 5, bias=False)

    def forward(self, x):
        x = self.stem(x)                                     # 8 x 5 x 4
        y = torch.cat([self.depthwise(x), x], dim=1)[:, 4:12]  # 8 x 5 x 4
        y = nn.functional.pad(y, (1, 1, 0, 1))               # 8 x 6 x 6
        z = torch.cat([self.grouped(y), y], dim=1)           # 14 x 6 x 6
        z = z[:, :, :, 1:5].permute(0, 1, 3, 2)              # 14 x 4 x 6
        return self.head(z.flatten(1))


@pytest.mark.parametrize("threshold", [0.0, 1.0])
def test_exact_matches_npb2023_on_index_operations(monkeypatch, threshold):
    # no biases, no pooling: the authors' float64 forward/backward is the exact count network
    monkeypatch.setattr(path_counting, "SPARSE_DENSITY", threshold)
    model = _Branchy()
    masks = _random_masks(model, 0.5, seed=3)
    exact, npb = (_values(model, masks, (3, 9, 8), convention=c) for c in ("exact", "npb2023"))
    assert exact["paths.log10_paths"].extras["paths"] == npb["paths.log10_paths"].extras["paths"] > 0
    found = [sg.effective_masks(model, masks, (3, 9, 8), convention=c) for c in ("exact", "npb2023")]
    assert all(torch.equal(found[0][n], found[1][n]) for n in found[0])
    assert 0 < found[0].num_kept < sum(int(m.sum()) for m in masks.values())


def test_adaptive_and_padded_pooling_windows():
    adaptive = nn.Sequential(nn.Conv2d(1, 1, 1, bias=False), nn.AdaptiveMaxPool2d((3, 2)), nn.Flatten())
    # PyTorch windows: rows [0,3) [2,5) [4,7) of 7, columns [0,3) [2,5) of 5 -> 9 * 6 paths
    assert compute_detailed("paths.log10_paths", (adaptive, None), input_shape=(1, 7, 5)).extras["paths"] == 54.0
    padded = nn.Sequential(nn.Conv2d(1, 1, 1, bias=False), nn.AvgPool2d(3, 2, padding=1), nn.Flatten())
    # windows over rows/columns -1..1, 1..3, 3..5 of 0..4 hold 2, 3, 2 real cells
    assert compute_detailed("paths.log10_paths", (padded, None), input_shape=(1, 5, 5)).extras["paths"] == 49.0


def test_passes_are_refused_above_the_memory_limit_before_allocating():
    from sparsegraph.errors import MemoryLimitError
    from sparsegraph.metrics.path_counting import passes_bytes, traced

    model = sg.create_model("resnet20")
    topology = traced(model, (3, 32, 32))
    need = passes_bytes(topology, {})
    # every node's two indicators at least, and the dense 0/1 operators
    assert need >= 16 * sum(math.prod(n.out_shape) for n in topology.nodes)
    with pytest.raises(MemoryLimitError, match="the paths passes .* needs about .* above the memory limit"):
        measure(model, None, "paths", (3, 32, 32), max_bytes=need // 2)  # refused, not an error row
    with pytest.raises(MemoryLimitError, match="npb2023"):
        measure(model, None, "paths", (3, 32, 32), max_bytes=need // 2, paths_convention="npb2023")
    result = measure(model, None, "paths.log10_paths", (3, 32, 32), max_bytes=2 * need)
    assert result.rows[-1]["status"] == "ok"


def test_sparse_layers_count_their_unfolded_inputs():
    from sparsegraph.metrics.path_counting import passes_bytes, traced

    model = sg.create_model("resnet20")
    topology = traced(model, (3, 32, 32))
    sparse = {info.param: torch.zeros(info.weight_shape, dtype=torch.bool) for info in topology.layers}
    first = topology.layers[0]
    extra = 16 * first.in_shape[0] * math.prod(first.kernel_size) * math.prod(first.out_shape[1:])
    assert passes_bytes(topology, sparse) - passes_bytes(topology, {}) >= extra - 8 * math.prod(first.weight_shape)
