"""Every zoo model traces, with the expected layers and DAG, and the fx and hooks tracers agree."""

from collections import Counter

import pytest

import sparsegraph as sg

CASES = {
    # (name, options): (input shape, layers, node kinds other than input/output/layer)
    ("mlp", ()): ((1, 28, 28), 3, {"reshape": 1}),
    ("lenet5", ()): ((1, 28, 28), 5, {"pool": 2, "reshape": 1}),
    ("conv6", ()): ((3, 32, 32), 9, {"pool": 3, "reshape": 1}),
    ("resnet18", ()): ((3, 32, 32), 21, {"add": 8, "global_pool": 1, "reshape": 1}),
    ("resnet34", ()): ((3, 32, 32), 37, {"add": 16, "global_pool": 1, "reshape": 1}),
    ("resnet20", ()): ((3, 32, 32), 22, {"add": 9, "global_pool": 1, "reshape": 1}),
    ("resnet32", ()): ((3, 32, 32), 34, {"add": 15, "global_pool": 1, "reshape": 1}),
    ("resnet20", (("shortcut", "A"),)): ((3, 32, 32), 20, {"add": 9, "slice": 4, "pad": 2, "global_pool": 1,
                                                           "reshape": 1}),
    ("resnet32", (("shortcut", "A"),)): ((3, 32, 32), 32, {"add": 15, "slice": 4, "pad": 2, "global_pool": 1,
                                                           "reshape": 1}),
    ("vgg16", ()): ((3, 32, 32), 14, {"pool": 5, "reshape": 1}),
    ("vgg16", (("variant", "vgg-d"),)): ((3, 32, 32), 16, {"pool": 5, "reshape": 1}),
    ("wrn28_2", ()): ((3, 32, 32), 29, {"add": 12, "global_pool": 1, "reshape": 1}),
}


def strip(topo):
    data = topo.to_dict()
    data.pop("tracer")
    for node in data["nodes"]:
        node.pop("op")
    return data


@pytest.mark.parametrize("name, options", sorted(CASES), ids=lambda v: str(v))
def test_zoo_traces_and_tracers_agree(name, options):
    shape, num_layers, kinds = CASES[(name, options)]
    model = sg.create_model(name, **dict(options))
    fx = sg.trace(model, shape, tracer="fx")
    assert fx.unused == () and len(fx.layers) == num_layers
    counts = Counter(n.kind for n in fx.nodes)
    assert counts.pop("input") == 1 and counts.pop("output") == 1 and counts.pop("layer") == num_layers
    assert dict(counts) == kinds
    assert model.training  # create_model returns a model in training mode; tracing restores it
    assert strip(fx) == strip(sg.trace(model, shape, tracer="hooks"))


def test_resnet20_option_a_shortcuts():
    topo = sg.trace(sg.create_model("resnet20", shortcut="A"), (3, 32, 32))
    add = topo.node(topo.layer("layer2.1.conv1").inputs[0])
    assert add.kind == "add" and add.module == "layer2.0"
    main, shortcut = (topo.node(i) for i in add.inputs)
    assert main.params == {"name": "layer2.0.conv2"}
    assert shortcut.kind == "pad" and shortcut.params == {"pad": (0, 0, 0, 0, 8, 8)}
    cols = topo.node(shortcut.inputs[0])
    rows = topo.node(cols.inputs[0])
    assert (rows.params["sample_dim"], rows.params["step"], cols.params["sample_dim"], cols.params["step"]) == (
        1, 2, 2, 2)
    assert topo.node(rows.inputs[0]).kind == "add" and cols.out_shape == (16, 16, 16)
    assert topo.layer("linear").in_shape == (64,)


def test_resnet20_option_b_projection_and_conv6_flatten():
    topo = sg.trace(sg.create_model("resnet20"), (3, 32, 32))
    projections = [l for l in topo.layers if l.kernel_size == (1, 1)]
    assert [(l.in_shape, l.out_shape, l.stride) for l in projections] == [
        ((16, 32, 32), (32, 16, 16), (2, 2)), ((32, 16, 16), (64, 8, 8), (2, 2))]
    for proj in projections:
        add = next(n for n in topo.nodes if n.kind == "add" and proj.node in n.inputs)
        assert len(add.inputs) == 2 and topo.node(add.inputs[0]).kind == "layer"
    conv6 = sg.trace(sg.create_model("conv6"), (3, 32, 32))
    fc1 = conv6.layers[6]
    flatten = conv6.node(fc1.inputs[0])
    pool = conv6.node(flatten.inputs[0])
    assert fc1.in_shape == (4096,) and flatten.params == {"shape": (4096,), "perm": None}
    assert pool.params["kernel"] == (2, 2) and pool.out_shape == (256, 4, 4)
