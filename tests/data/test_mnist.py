import gzip

import numpy as np
import pytest
import torch

from sparsegraph.data import load_dataset, load_tensors
from sparsegraph.data.mnist import read_idx
from sparsegraph.errors import DatasetError


def test_raw_idx_layout(fake_mnist):
    raw, labels = load_tensors("mnist", "test", root=fake_mnist, normalize=False)
    assert raw.dtype == torch.uint8 and raw.shape == (20, 1, 28, 28)
    assert torch.equal(raw[:, 0, 5, 7], torch.arange(60, 80, dtype=torch.uint8))
    assert labels.tolist() == [k % 10 for k in range(60, 80)]
    x, _ = load_tensors("mnist", "test", root=fake_mnist)
    assert torch.allclose(x, (raw.float() / 255 - 0.1307) / 0.3081, atol=1e-6)


def test_held_out_split_and_no_augmentation(fake_mnist):
    train = load_dataset("mnist", "train", root=fake_mnist, val_split=10)
    val = load_dataset("mnist", "val", root=fake_mnist, val_split=10)
    assert (len(train), len(val), train.augment) == (50, 10, False)
    assert torch.bincount(val.labels).tolist() == [1] * 10
    assert not set(train.indices.tolist()) & set(val.indices.tolist())
    with pytest.raises(Exception, match="has no augmentation"):
        load_dataset("mnist", "train", root=fake_mnist, augment=True, val_split=10)


def test_gzipped_files_and_fashion_folder(fake_mnist):
    source, target = fake_mnist / "MNIST" / "raw", fake_mnist / "FashionMNIST" / "raw"
    target.mkdir(parents=True)
    for path in source.iterdir():
        (target / f"{path.name}.gz").write_bytes(gzip.compress(path.read_bytes()))
    x, y = load_tensors("fashionmnist", "test", root=fake_mnist, normalize=False)
    assert x.shape == (20, 1, 28, 28) and y.tolist() == [k % 10 for k in range(60, 80)]
    assert load_dataset("fashion-mnist", "test", root=fake_mnist).classes[9] == "Ankle boot"


def test_bad_idx_files(tmp_path, fake_formats):
    fake_formats.write_idx(tmp_path / "a", np.zeros((2, 3), dtype=np.uint8))
    with pytest.raises(DatasetError, match="with 3 dimension"):
        read_idx(tmp_path / "a", 3)
    (tmp_path / "b").write_bytes((tmp_path / "a").read_bytes()[:-1])
    with pytest.raises(DatasetError, match=r"header says \(2, 3\) but holds 5 bytes"):
        read_idx(tmp_path / "b", 2)


def test_missing_names_the_path(tmp_path):
    with pytest.raises(DatasetError, match=f"missing {tmp_path}/MNIST/raw/train-images-idx3-ubyte; put the "
                                           f"extracted archive at {tmp_path}/MNIST/raw or rerun with --download"):
        load_dataset("mnist", "train", root=tmp_path)
