"""Model SPECs (zoo, torchvision, file.py:callable, package.module:callable) and checkpoints."""

import sys
import textwrap

import pytest
import torch
from safetensors.torch import save_file
from torch import nn
from torch.nn.utils import prune

from sparsegraph.errors import CheckpointError, ModelSpecError
from sparsegraph.models import create_model, load_checkpoint, load_model, read_state_dict

USER_MODELS = textwrap.dedent('''
    import dataclasses
    from torch import nn

    @dataclasses.dataclass
    class Config:
        hidden: int = 5

    def build(num_classes=10, hidden=Config().hidden):
        return nn.Sequential(nn.Flatten(), nn.Linear(4, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))

    def build_fixed():
        return nn.Linear(4, 3)

    class Net(nn.Module):
        def __init__(self, num_classes):
            super().__init__()
            self.fc = nn.Linear(4, num_classes)

    class Factory:
        @staticmethod
        def make(**kw):
            return nn.Linear(4, kw["num_classes"])

    def not_a_model(num_classes=10):
        return {"num_classes": num_classes}

    def broken(num_classes=10):
        raise RuntimeError("out of cheese")

    answer = 42
''')


@pytest.fixture
def user_file(tmp_path):
    path = tmp_path / "user_models.py"
    path.write_text(USER_MODELS)
    return path


def _same_state(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# ---- SPEC kinds -------------------------------------------------------------------------------

def test_zoo_name_with_options():
    model = load_model("resnet20", num_classes=100, shortcut="A")
    assert model.linear.out_features == 100
    assert model.input_shape == (3, 32, 32)
    assert not any(isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1) for m in model.modules())


def test_torchvision_spec():
    model = load_model("torchvision:resnet18", num_classes=7)
    assert type(model).__name__ == "ResNet" and model.fc.out_features == 7
    assert model.conv1.kernel_size == (7, 7)  # torchvision's ImageNet stem, unlike the zoo's
    assert model.input_shape == (3, 224, 224)


def test_file_spec_passes_num_classes_and_options(user_file):
    model = load_model(f"{user_file}:build", num_classes=4, hidden=6)
    assert [m.out_features for m in model if isinstance(m, nn.Linear)] == [6, 4]


def test_file_spec_without_num_classes_parameter(user_file):
    model = load_model(f"{user_file}:build_fixed", num_classes=4)
    assert model.out_features == 3


def test_file_spec_class_and_attribute_path(user_file):
    assert load_model(f"{user_file}:Net", num_classes=5).fc.out_features == 5
    assert load_model(f"{user_file}:Factory.make", num_classes=6).out_features == 6


def test_module_spec(tmp_path, monkeypatch):
    package = tmp_path / "sgtestpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "nets.py").write_text(USER_MODELS)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        model = load_model("sgtestpkg.nets:build", num_classes=3)
        assert model[-1].out_features == 3
    finally:
        for name in [n for n in sys.modules if n.startswith("sgtestpkg")]:
            del sys.modules[name]


def test_seeded_init_through_load_model():
    a = load_model("torchvision:resnet18", init="kaiming_fan_out", seed=0)
    b = load_model("torchvision:resnet18", init="kaiming_fan_out", seed=0)
    assert _same_state(a, b)


# ---- SPEC errors ------------------------------------------------------------------------------

@pytest.mark.parametrize("spec,match", [
    ("resnt20", r"unknown model 'resnt20'; did you mean 'resnet20'.*zoo: mlp, lenet5"),
    ("torchvision:resnet19", r"'torchvision:resnet19'.*not a torchvision classification model.*'resnet18'"),
    ("missing_dir/nets.py:build", r"missing_dir/nets.py not found"),
    ("sg_no_such_module.nets:build", r"module 'sg_no_such_module.nets' not found"),
    ("resnet20:", r"expected <file.py or package.module>:<callable>"),
    ("", r"non-empty string"),
])
def test_spec_errors(spec, match):
    with pytest.raises(ModelSpecError, match=match) as info:
        load_model(spec)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("attr,match", [
    ("nope", r"has no attribute 'nope'"),
    ("answer", r"'answer' in .*user_models.py is not callable"),
    ("not_a_model", r"not_a_model returned dict, not a torch.nn.Module"),
    ("broken", r"calling broken failed: RuntimeError: out of cheese"),
])
def test_callable_errors_name_the_file(user_file, attr, match):
    with pytest.raises(ModelSpecError, match=match) as info:
        load_model(f"{user_file}:{attr}")
    assert str(user_file) in str(info.value)


def test_file_that_fails_to_import(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text("import sg_definitely_missing_package\n")
    with pytest.raises(ModelSpecError, match=r"importing .*bad.py failed: ModuleNotFoundError"):
        load_model(f"{path}:build")


# ---- checkpoints ------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".safetensors", ".pt", ".pth"])
def test_checkpoint_round_trip(tmp_path, suffix):
    source = create_model("resnet20", seed=1)
    source(torch.randn(4, 3, 32, 32))  # non-trivial running statistics
    path = tmp_path / f"ckpt{suffix}"
    if suffix == ".safetensors":
        save_file(source.state_dict(), str(path))
    else:
        torch.save(source.state_dict(), path)
    loaded = load_model("resnet20", checkpoint=path)
    assert _same_state(source, loaded)


@pytest.mark.parametrize("wrap", [
    lambda sd: {"state_dict": sd, "epoch": 3},
    lambda sd: {"model": sd, "optimizer": {"lr": 0.1}},
    lambda sd: {f"module.{k}": v for k, v in sd.items()},
    lambda sd: {"state_dict": {f"module.{k}": v for k, v in sd.items()}},
], ids=["state_dict", "model", "dataparallel", "nested+dataparallel"])
def test_checkpoint_wrappers(tmp_path, wrap):
    source = create_model("mlp", seed=4)
    path = tmp_path / "ckpt.pt"
    torch.save(wrap(source.state_dict()), path)
    assert _same_state(source, load_model("mlp", checkpoint=path))


def test_missing_num_batches_tracked_is_tolerated(tmp_path):
    source = create_model("resnet20", seed=5)
    state = {k: v for k, v in source.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "old.pt"
    torch.save(state, path)
    loaded = load_model("resnet20", checkpoint=path)
    assert torch.equal(loaded.conv1.weight, source.conv1.weight)


def test_pruned_checkpoint_keeps_its_masks(tmp_path):
    source = create_model("mlp", seed=6)
    prune.l1_unstructured(source.fc1, "weight", amount=0.9)
    path = tmp_path / "pruned.pt"
    torch.save(source.state_dict(), path)
    loaded = load_model("mlp", checkpoint=path)
    assert torch.equal(loaded.fc1.weight_mask, source.fc1.weight_mask)
    assert torch.equal(loaded.fc1.weight, source.fc1.weight_orig * source.fc1.weight_mask)
    assert loaded.fc1.weight.count_nonzero().item() == source.fc1.weight_mask.sum().item()
    x = torch.randn(2, 1, 28, 28)
    assert torch.equal(loaded(x), source(x))


def _saved(tmp_path, state, name="ckpt.pt"):
    path = tmp_path / name
    torch.save(state, path)
    return path


def test_checkpoint_missing_entries(tmp_path):
    state = create_model("mlp").state_dict()
    del state["fc2.weight"]
    path = _saved(tmp_path, state)
    with pytest.raises(CheckpointError, match=r"ckpt.pt: missing 1 entry of the model: fc2.weight"):
        load_model("mlp", checkpoint=path)


def test_checkpoint_unexpected_entries(tmp_path):
    state = create_model("mlp").state_dict()
    state["fc4.weight"] = torch.zeros(2, 2)
    path = _saved(tmp_path, state)
    with pytest.raises(CheckpointError, match=r"ckpt.pt: 1 unexpected entry not in the model: fc4.weight"):
        load_model("mlp", checkpoint=path)


def test_checkpoint_shape_mismatch_names_the_parameter(tmp_path):
    path = _saved(tmp_path, create_model("mlp", num_classes=100).state_dict())
    with pytest.raises(CheckpointError, match=r"ckpt.pt: parameter 'fc3.weight' has shape \(100, 100\), "
                                              r"the model expects \(10, 100\)"):
        load_model("mlp", checkpoint=path)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_checkpoint_non_finite_values(tmp_path, bad):
    state = create_model("mlp").state_dict()
    state["fc2.bias"][3] = bad
    path = tmp_path / "bad.safetensors"
    save_file(state, str(path))
    with pytest.raises(CheckpointError, match=r"bad.safetensors: parameter 'fc2.bias' contains NaN or infinite"):
        load_model("mlp", checkpoint=path)


def test_unreadable_checkpoints(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match=r"garbage.pt: cannot be read"):
        read_state_dict(garbage)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x00\x01\x02")
    with pytest.raises(CheckpointError, match=r"broken.safetensors: cannot be read"):
        read_state_dict(broken)
    with pytest.raises(CheckpointError, match=r"absent.pt: file not found"):
        read_state_dict(tmp_path / "absent.pt")
    with pytest.raises(CheckpointError, match=r"weights.h5: unknown format '.h5'"):
        read_state_dict(tmp_path / "weights.h5")


def test_pickled_module_is_refused_not_unpickled(tmp_path):
    path = tmp_path / "whole.pt"
    torch.save(nn.Linear(2, 2), path)  # a whole module needs unpickling code: weights_only refuses
    with pytest.raises(CheckpointError, match=r"whole.pt: cannot be read"):
        read_state_dict(path)


def test_non_tensor_entries_are_refused(tmp_path):
    path = _saved(tmp_path, {"fc1.weight": torch.zeros(1), "epoch": 3})
    with pytest.raises(CheckpointError, match=r"ckpt.pt: entry 'epoch' is a int, not a tensor"):
        read_state_dict(path)


def test_load_checkpoint_into_an_existing_model(tmp_path):
    source = create_model("lenet5", input_shape=(1, 8, 8), seed=9)
    path = tmp_path / "lenet.safetensors"
    save_file(source.state_dict(), str(path))
    target = create_model("lenet5", input_shape=(1, 8, 8))
    assert load_checkpoint(target, path) is target
    assert _same_state(source, target)
