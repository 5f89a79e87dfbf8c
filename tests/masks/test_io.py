"""Mask files: exact round trips in every format, foreign files, atomic saves, unreadable files."""

import json
import os
import zipfile

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch.nn.utils import prune

from sparsegraph import __version__
from sparsegraph.errors import MaskError
from sparsegraph.masks import MaskSet, model_fingerprint

SUFFIXES = [".safetensors", ".pt", ".pth", ".npz"]


@pytest.fixture
def masks(masks_dict):
    # not in sorted order: the files must keep MaskSet order
    return MaskSet(masks_dict, {"generator": "random", "seed": 7, "tags": ["a", 1], "note": None})


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_round_trip_is_exact(tmp_path, masks, suffix):
    path = masks.save(tmp_path / f"m{suffix}")
    loaded = MaskSet.load(path)
    assert list(loaded) == ["conv1.weight", "block.0.weight", "fc.weight"]
    assert loaded == masks
    for name in masks:
        assert loaded[name].dtype == torch.bool and torch.equal(loaded[name], masks[name])
    assert loaded.metadata == {"generator": "random", "seed": 7, "tags": ["a", 1], "note": None}
    assert loaded.fingerprint() == masks.fingerprint()
    assert loaded.source == str(path)
    assert os.listdir(tmp_path) == [f"m{suffix}"]  # no temporary file left behind


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_save_merges_extra_metadata(tmp_path, masks, suffix):
    loaded = MaskSet.load(masks.save(tmp_path / f"m{suffix}", metadata={"seed": 8, "run": "x"}))
    assert loaded.metadata == {"generator": "random", "seed": 8, "tags": ["a", 1], "note": None, "run": "x"}
    assert masks.metadata["seed"] == 7


def test_safetensors_header_is_readable_text(tmp_path, masks, net):
    path = masks.save(tmp_path / "m.safetensors", metadata={"model_fingerprint": model_fingerprint(net)})
    with safe_open(str(path), framework="pt") as handle:
        header = handle.metadata()
        assert {handle.get_tensor(name).dtype for name in handle.keys()} == {torch.bool}
    assert header["format"] == "sparsegraph.masks/1"
    assert header["sparsegraph_version"] == __version__
    assert header["generator"] == "random" and header["seed"] == "7" and header["tags"] == '["a", 1]'
    assert header["note"] == "null"
    assert header["fingerprint"] == masks.fingerprint()
    assert header["model_fingerprint"] == model_fingerprint(net)
    assert float(header["density"]) == masks.density
    assert int(header["num_kept"]) == masks.num_kept and int(header["numel"]) == 354
    assert json.loads(header["order"]) == list(masks)


def test_default_model_fingerprint_is_that_of_the_masked_parameters(tmp_path, masks, net):
    path = masks.save(tmp_path / "m.safetensors")
    with safe_open(str(path), framework="pt") as handle:
        assert handle.metadata()["model_fingerprint"] == model_fingerprint(net) == model_fingerprint(masks)
    assert "model_fingerprint" not in MaskSet.load(path).metadata


def test_torch_prune_state_dict_loads_as_masks(tmp_path, net):
    prune.l1_unstructured(net.conv1, "weight", amount=0.6)
    prune.l1_unstructured(net.fc, "weight", amount=0.3)
    torch.save(net.state_dict(), tmp_path / "pruned.pth")
    loaded = MaskSet.load(tmp_path / "pruned.pth")
    assert list(loaded) == ["conv1.weight", "fc.weight"]
    assert torch.equal(loaded["conv1.weight"], net.conv1.weight_mask.bool())
    assert torch.equal(loaded["fc.weight"], net.fc.weight_mask.bool())
    assert loaded == MaskSet.from_model(net) and loaded.metadata == {}
    assert loaded.num_kept == round(0.4 * 108) + round(0.7 * 30)


def test_prune_state_dict_bias_masks_are_skipped_with_a_warning(tmp_path, net):
    prune.l1_unstructured(net.fc, "weight", amount=0.5)
    prune.l1_unstructured(net.fc, "bias", amount=0.4)
    torch.save(net.state_dict(), tmp_path / "pruned.pt")
    with pytest.warns(UserWarning, match=r"ignored fc.bias_mask: only Conv2d and Linear weights are masked"):
        loaded = MaskSet.load(tmp_path / "pruned.pt")
    assert list(loaded) == ["fc.weight"]


def test_foreign_files_without_header(tmp_path, masks_dict):
    torch.save({k: v.float() for k, v in masks_dict.items()}, tmp_path / "plain.pt")
    np.savez(tmp_path / "plain.npz", **{k: v.numpy().astype(np.uint8) for k, v in masks_dict.items()})
    save_file({k: v.to(torch.uint8) for k, v in masks_dict.items()}, str(tmp_path / "plain.safetensors"),
              metadata={"generator": "rigl", "seed": "3"})
    expected = MaskSet(masks_dict)
    assert MaskSet.load(tmp_path / "plain.pt") == expected
    assert MaskSet.load(tmp_path / "plain.npz") == expected
    st = MaskSet.load(tmp_path / "plain.safetensors")  # no order in the header: safetensors' key order
    assert sorted(st) == sorted(expected) and all(torch.equal(st[k], expected[k]) for k in expected)
    assert st.metadata == {"generator": "rigl", "seed": "3"}


def test_npz_is_a_plain_numpy_archive(tmp_path, masks):
    path = masks.save(tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as archive:
        assert archive.files == ["conv1.weight", "block.0.weight", "fc.weight", "__metadata__"]
        assert archive["fc.weight"].dtype == np.bool_
        assert np.array_equal(archive["fc.weight"], masks["fc.weight"].numpy())
        assert json.loads(str(archive["__metadata__"]))["fingerprint"] == masks.fingerprint()


def test_names_that_clash_with_numpy_savez_arguments(tmp_path):
    masks = MaskSet({"file": torch.ones(2), "allow_pickle": torch.tensor([True, False])})
    assert MaskSet.load(masks.save(tmp_path / "m.npz")) == masks


def test_failed_save_keeps_the_old_file(tmp_path, masks):
    path = masks.save(tmp_path / "m.safetensors")
    before = path.read_bytes()
    with pytest.raises(ValueError, match="JSON-serialisable"):
        masks.save(path, metadata={"bad": object()})
    with pytest.raises(ValueError, match="metadata key 'density' is written by sparsegraph itself"):
        masks.save(path, metadata={"density": 0.5})
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.safetensors"]


def test_edited_file_warns_about_its_stale_fingerprint(tmp_path, masks):
    path = masks.save(tmp_path / "m.safetensors")
    with safe_open(str(path), framework="pt") as handle:
        header, tensors = handle.metadata(), {k: handle.get_tensor(k) for k in handle.keys()}
    tensors["fc.weight"][0, 0] = ~tensors["fc.weight"][0, 0]
    save_file(tensors, str(path), metadata=header)
    with pytest.warns(UserWarning, match=r"differs from the .* stored in the file's header"):
        loaded = MaskSet.load(path)
    assert loaded["fc.weight"][0, 0] == tensors["fc.weight"][0, 0]


# ---- files that are not mask files --------------------------------------------------------------

def one_line_error(path) -> str:
    with pytest.raises(MaskError) as info:
        MaskSet.load(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path) + ": ")
    return message[len(str(path)) + 2:]


def test_unsupported_suffix(tmp_path):
    (tmp_path / "m.txt").write_text("1 0 1")
    assert one_line_error(tmp_path / "m.txt") == (
        "unsupported mask file suffix '.txt' (expected .safetensors, .pt, .pth, .npz)")
    with pytest.raises(MaskError, match="unsupported mask file suffix '.json'"):
        MaskSet({"a": torch.ones(1)}).save(tmp_path / "m.json")


def test_missing_file(tmp_path):
    assert one_line_error(tmp_path / "absent.safetensors") == "no such mask file"


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_truncated_files(tmp_path, masks, suffix):
    path = masks.save(tmp_path / f"m{suffix}")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert one_line_error(path).startswith("cannot read the mask file (corrupt, truncated")


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_garbage_files(tmp_path, suffix):
    path = tmp_path / f"m{suffix}"
    path.write_bytes(b"this is not a mask file at all" * 4)
    assert one_line_error(path).startswith("cannot read the mask file (corrupt, truncated")


def test_pickled_objects_are_refused(tmp_path):
    torch.save({"fc.weight": torch.ones(2), "extra": zipfile.ZipInfo("x")}, tmp_path / "obj.pt")
    message = one_line_error(tmp_path / "obj.pt")
    assert message.startswith("cannot read the mask file (corrupt, truncated, or holding objects that "
                              "torch.load(weights_only=True) refuses): Unsupported global")


def test_npz_object_arrays_are_refused(tmp_path):
    np.savez(tmp_path / "obj.npz", a=np.array([{"x": 1}], dtype=object))
    assert "Object arrays cannot be loaded" in one_line_error(tmp_path / "obj.npz")


def test_pt_that_is_not_a_dict_of_tensors(tmp_path):
    torch.save([torch.ones(2)], tmp_path / "list.pt")
    assert one_line_error(tmp_path / "list.pt") == (
        "expected a dict of parameter name -> mask tensor, got a list")
    torch.save({0: torch.ones(2)}, tmp_path / "intkeys.pt")
    assert "non-string keys" in one_line_error(tmp_path / "intkeys.pt")
    torch.save({"fc.weight": torch.ones(2), "epoch": 3}, tmp_path / "mixed.pt")
    assert one_line_error(tmp_path / "mixed.pt") == (
        "parameter 'epoch': mask is a int, expected a tensor or numpy array")
    torch.save({"fc.weight": torch.ones(2), "__metadata__": 3}, tmp_path / "header.pt")
    assert one_line_error(tmp_path / "header.pt") == (
        "entry '__metadata__' is not a sparsegraph mask header (a JSON object of strings)")


def test_empty_files(tmp_path):
    torch.save({}, tmp_path / "empty.pt")
    assert one_line_error(tmp_path / "empty.pt") == "the file holds no masks"
    torch.save({"fc.weight_orig": torch.ones(2), "fc.bias_mask": torch.ones(2), "fc.weight_mask": torch.ones(2)},
               tmp_path / "ok.pt")
    with pytest.warns(UserWarning):
        assert list(MaskSet.load(tmp_path / "ok.pt")) == ["fc.weight"]


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("bad, problem", [(0.5, "contains the non-boolean value 0.5"),
                                          (2.0, "contains the non-boolean value 2.0"),
                                          (float("nan"), "contains NaN")])
def test_non_boolean_values_name_file_and_parameter(tmp_path, suffix, bad, problem):
    values = torch.tensor([[1.0, 0.0], [bad, 1.0]])
    path = tmp_path / f"m{suffix}"
    if suffix == ".safetensors":
        save_file({"layer1.0.conv1.weight": values}, str(path))
    elif suffix == ".npz":
        np.savez(path, **{"layer1.0.conv1.weight": values.numpy()})
    else:
        torch.save({"layer1.0.conv1.weight": values}, path)
    assert one_line_error(path) == (
        f"parameter 'layer1.0.conv1.weight': mask {problem} (masks hold only 0/1 or True/False)")


def test_all_zero_file(tmp_path):
    save_file({"a.weight": torch.zeros(3, 3, dtype=torch.bool)}, str(tmp_path / "z.safetensors"))
    assert one_line_error(tmp_path / "z.safetensors") == (
        "the masks keep no weight at all (1 parameters, every entry 0)")


def test_header_order_that_does_not_match_the_tensors(tmp_path):
    save_file({"a.weight": torch.ones(2, dtype=torch.bool)}, str(tmp_path / "o.safetensors"),
              metadata={"order": json.dumps(["b.weight"])})
    assert one_line_error(tmp_path / "o.safetensors") == (
        "the header's parameter order does not list the file's tensors")


def test_newer_format_version_is_refused(tmp_path, masks):
    save_file({"a.weight": torch.ones(2, dtype=torch.bool)}, str(tmp_path / "v2.safetensors"),
              metadata={"format": "sparsegraph.masks/2"})
    assert one_line_error(tmp_path / "v2.safetensors") == (
        "mask file format 'sparsegraph.masks/2' is not supported (this version reads 'sparsegraph.masks/1')")


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_files_are_byte_identical_for_equal_content(tmp_path, masks_dict, suffix):
    """The file's hash identifies its content: no random map order, temporary names or dates."""
    import hashlib

    meta = {f"k{i}": i for i in range(12)} | {"nested": {"b": 1, "a": [2, {"z": 0, "y": 1}]}}
    a = MaskSet(masks_dict, meta).save(tmp_path / "a" / f"m{suffix}")
    b = MaskSet(masks_dict, dict(reversed(list(meta.items())))).save(tmp_path / "b" / f"m{suffix}")
    assert hashlib.sha256(a.read_bytes()).hexdigest() == hashlib.sha256(b.read_bytes()).hexdigest()
    assert MaskSet.load(b).metadata == meta
    flipped = dict(masks_dict)
    flipped["fc.weight"] = masks_dict["fc.weight"].clone()
    flipped["fc.weight"].view(-1)[0] ^= True
    c = MaskSet(flipped, meta).save(tmp_path / "c" / f"m{suffix}")
    assert c.read_bytes() != a.read_bytes()


def test_compact_files_round_trip_as_bits_or_indices(tmp_path):
    g = torch.Generator().manual_seed(0)
    dense = torch.rand(64, 64, generator=g) < 0.5          # bits are smaller
    sparse = torch.rand(32, 16, 3, 3, generator=g) < 0.01  # indices are smaller
    masks = MaskSet({"a.weight": dense, "b.weight": sparse}, metadata={"step": 7})
    plain, compact = masks.save(tmp_path / "plain.safetensors"), masks.save(tmp_path / "c.safetensors", compact=True)
    loaded = MaskSet.load(compact)
    assert loaded == masks and loaded.metadata == {"step": 7} and loaded.fingerprint() == masks.fingerprint()
    from safetensors import safe_open

    with safe_open(str(compact), framework="pt") as handle:
        assert handle.get_tensor("a.weight").dtype == torch.uint8 and handle.get_tensor("b.weight").dtype == torch.int32
        assert json.loads(handle.metadata()["encoding"])["b.weight"] == ["indices", [32, 16, 3, 3]]
    assert compact.stat().st_size * 4 < plain.stat().st_size
    with pytest.raises(MaskError, match="compact"):
        masks.save(tmp_path / "c.npz", compact=True)
