import importlib.util
from pathlib import Path

import pytest
import torch

from sparsegraph.data import load_dataset, load_tensors
from sparsegraph.errors import DatasetError

REPO = Path(__file__).resolve().parents[2]


def _prepare_script():
    spec = importlib.util.spec_from_file_location("prepare_tinyimagenet", REPO / "datasets" / "prepare_tinyimagenet.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check_split(root, split, per_class, fake_formats):
    raw, labels = load_tensors("tinyimagenet", split, root=root, val_split=0 if split == "train" else None,
                               normalize=False)
    assert raw.dtype == torch.uint8 and raw.shape == (3 * per_class, 3, 64, 64)
    assert sorted(labels.tolist()) == sorted([0, 1, 2] * per_class)
    expected = torch.tensor([fake_formats.tiny_value(label) for label in labels.tolist()], dtype=torch.float32)
    assert torch.allclose(raw.float().mean(dim=(1, 2, 3)), expected, atol=2)  # solid grey per class, via JPEG
    return raw, labels


def test_train_as_image_folder(fake_tinyimagenet, fake_formats):
    dataset = load_dataset("tinyimagenet", "train", root=fake_tinyimagenet, val_split=3)
    assert dataset.classes == fake_formats.TINY_WNIDS  # sorted wnids, as ImageFolder
    assert dataset.augment and len(dataset) == 9
    # the greyscale JPEG comes out as 3 channels
    _check_split(fake_tinyimagenet, "train", fake_formats.TINY_TRAIN_PER_CLASS, fake_formats)
    x, y = dataset[0]
    assert x.shape == (3, 64, 64) and x.dtype == torch.float32 and isinstance(y, int)


def test_test_split_in_both_val_layouts(fake_tinyimagenet, fake_formats):
    raw_layout = _check_split(fake_tinyimagenet, "test", fake_formats.TINY_VAL_PER_CLASS, fake_formats)
    moved = _prepare_script().relay_val(fake_tinyimagenet / "tiny-imagenet-200")
    val = fake_tinyimagenet / "tiny-imagenet-200" / "val"
    assert moved == 6 and not (val / "images").exists()
    assert sorted(p.name for p in val.iterdir() if p.is_dir()) == list(fake_formats.TINY_WNIDS)
    relaid = _check_split(fake_tinyimagenet, "test", fake_formats.TINY_VAL_PER_CLASS, fake_formats)
    order = torch.argsort(raw_layout[1], stable=True), torch.argsort(relaid[1], stable=True)
    assert torch.equal(raw_layout[1][order[0]], relaid[1][order[1]])
    assert torch.equal(raw_layout[0][order[0]], relaid[0][order[1]])


def test_unknown_wnid_in_annotations(fake_tinyimagenet):
    annotations = fake_tinyimagenet / "tiny-imagenet-200" / "val" / "val_annotations.txt"
    annotations.write_text("val_0.JPEG\tn99999999\t0\t0\t1\t1\n")
    with pytest.raises(DatasetError, match="val_annotations.txt:1: expected"):
        load_dataset("tinyimagenet", "test", root=fake_tinyimagenet)


def test_missing_and_no_download(tmp_path):
    directory = tmp_path / "tiny-imagenet-200"
    with pytest.raises(DatasetError, match=f"missing {directory}/train; put the extracted archive at {directory} "):
        load_dataset("tinyimagenet", "train", root=tmp_path)
    with pytest.raises(DatasetError, match="cannot be downloaded automatically"):
        load_dataset("tinyimagenet", "train", root=tmp_path, download=True)
