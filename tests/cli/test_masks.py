"""``sparsegraph masks``: summaries in every format, model checks, exit code 3 on bad files."""

import importlib
import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import sparsegraph.models
from sparsegraph.masks import MaskSet, model_fingerprint
from sparsegraph_cli.main import main

NETS = Path(__file__).resolve().parents[1] / "masks" / "nets.py"


def load_nets():
    spec = importlib.util.spec_from_file_location("cli_mask_test_nets", NETS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def mask_file(tmp_path):
    conv1 = torch.zeros(108, dtype=torch.bool)
    conv1[:27] = True
    masks = MaskSet({"conv1.weight": conv1.reshape(4, 3, 3, 3), "fc.weight": torch.ones(5, 6)},
                    {"generator": "manual", "seed": 4})
    return masks, masks.save(tmp_path / "m.safetensors")


@pytest.fixture
def fake_zoo(monkeypatch):
    """``load_model`` resolving only the SPEC "net" (to the test Net), whatever the zoo holds."""
    nets = load_nets()
    calls = []

    def load_model(spec, num_classes=10, checkpoint=None, input_shape=None):
        calls.append((spec, num_classes, checkpoint))
        if spec != "net":
            raise sparsegraph.errors.ModelSpecError(f"unknown model {spec!r}")
        return nets.make_net(num_classes)

    monkeypatch.setattr(sparsegraph.models, "load_model", load_model, raising=False)
    return calls


def run(*args):
    return CliRunner().invoke(main, ["masks", *map(str, args)])


def test_table(mask_file):
    masks, path = mask_file
    result = run(path)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:5] == [f"file: {path}", f"fingerprint: {masks.fingerprint()}",
                         "density: 0.413043 (57 of 138 weights kept)", "metadata.generator: manual",
                         "metadata.seed: 4"]
    assert lines[6].split() == ["parameter", "shape", "kept", "numel", "density"]
    assert lines[8].split() == ["conv1.weight", "4x3x3x3", "27", "108", "0.25"]
    assert lines[9].split() == ["fc.weight", "5x6", "30", "30", "1"]


def test_json(mask_file):
    masks, path = mask_file
    result = run(path, "--format", "json")
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert summary == {
        "path": str(path), "fingerprint": masks.fingerprint(), "density": 57 / 138, "num_kept": 57,
        "numel": 138, "metadata": {"generator": "manual", "seed": 4}, "model": None,
        "layers": [{"parameter": "conv1.weight", "shape": "4x3x3x3", "kept": 27, "numel": 108, "density": 0.25},
                   {"parameter": "fc.weight", "shape": "5x6", "kept": 30, "numel": 30, "density": 1.0}]}


def test_csv(mask_file):
    _, path = mask_file
    result = run(path, "--format", "csv")
    assert result.stdout == ("parameter,shape,kept,numel,density\n"
                             "conv1.weight,4x3x3x3,27,108,0.25\nfc.weight,5x6,30,30,1.0\n")


def test_model_check(mask_file, fake_zoo):
    _, path = mask_file
    result = run(path, "--model", "net", "--format", "json", "--num-classes", "5")
    assert result.exit_code == 0, result.output
    assert fake_zoo == [("net", 5, None)]
    model = json.loads(result.stdout)["model"]
    assert model == {"spec": "net", "fingerprint": model_fingerprint(load_nets().make_net()), "fits": True,
                     "dense_parameters": ["block.0.weight"]}
    table = run(path, "--model", "net", "--num-classes", "5").stdout
    assert f"model: net (fingerprint {model['fingerprint']}): the masks fit; without a mask (dense): block.0.weight" \
        in table


def test_mask_that_does_not_fit_exits_3(mask_file, fake_zoo):
    _, path = mask_file
    result = run(path, "--model", "net", "--num-classes", "7")
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr == (f"Error: {path}: parameter 'fc.weight': mask shape (5, 6) does not match the "
                             "model's parameter shape (7, 6)\n")


@pytest.mark.parametrize("content, reason", [
    (b"\x00garbage", "cannot read the mask file"),
    (None, "no such mask file"),
])
def test_bad_mask_file_exits_3_with_one_line(tmp_path, content, reason):
    path = tmp_path / "bad.pt"
    if content is not None:
        path.write_bytes(content)
    result = run(path)
    assert result.exit_code == 3
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"Error: {path}: {reason}")


def test_non_boolean_mask_exits_3(tmp_path):
    torch.save({"fc.weight": torch.tensor([0.0, 0.5])}, tmp_path / "half.pt")
    result = run(tmp_path / "half.pt")
    assert result.exit_code == 3
    assert result.stderr == (f"Error: {tmp_path / 'half.pt'}: parameter 'fc.weight': mask contains the "
                             "non-boolean value 0.5 (masks hold only 0/1 or True/False)\n")


@pytest.mark.skipif(not hasattr(sparsegraph.models, "load_model"), reason="needs sparsegraph.models.load_model")
def test_real_model_spec_from_a_python_file(mask_file):
    _, path = mask_file
    result = run(path, "--model", f"{NETS}:make_net", "--num-classes", "5", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["model"]["dense_parameters"] == ["block.0.weight"]


def test_zoo_model(tmp_path):
    from sparsegraph.masks import maskable_parameters

    gen = torch.Generator().manual_seed(0)
    weights = maskable_parameters(sparsegraph.models.create_model("mlp", num_classes=10))
    masks = MaskSet({name: torch.rand(w.shape, generator=gen) < 0.1 for name, w in weights.items()})
    path = masks.save(tmp_path / "mlp.safetensors")
    result = run(path, "--model", "mlp", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["model"]["dense_parameters"] == []
    wrong = run(path, "--model", "lenet5")
    assert wrong.exit_code == 3
    assert wrong.stderr.startswith(f"Error: {path}: parameter '{next(iter(masks))}': ")
    assert wrong.stderr.count("\n") == 1
