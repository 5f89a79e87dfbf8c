import os
import pickle

import numpy as np
import pytest
import torch

from sparsegraph.data import load_dataset, load_tensors
from sparsegraph.errors import DatasetError


def test_test_split_reads_the_real_format(fake_cifar10, fake_formats):
    CIFAR_TEST, cifar_image = fake_formats.CIFAR_TEST, fake_formats.cifar_image
    raw, labels = load_tensors("cifar10", "test", root=fake_cifar10, normalize=False)
    keys = np.arange(100, 100 + CIFAR_TEST)
    assert raw.dtype == torch.uint8 and raw.shape == (CIFAR_TEST, 3, 32, 32)
    assert np.array_equal(raw.numpy().reshape(CIFAR_TEST, -1), np.stack([cifar_image(k) for k in keys]))
    assert labels.tolist() == (keys % 10).tolist()
    dataset = load_dataset("cifar10", "test", root=fake_cifar10)
    assert dataset.classes[0] == "airplane" and dataset.classes[9] == "truck"
    assert not dataset.augment


def test_train_val_held_out_stratified_and_disjoint(fake_cifar10, fake_formats):
    CIFAR_TEST = fake_formats.CIFAR_TEST
    train = load_dataset("cifar10", "train", root=fake_cifar10, val_split=20)
    val = load_dataset("cifar10", "val", root=fake_cifar10, val_split=20)
    assert (len(train), len(val)) == (80, 20)
    assert torch.bincount(val.labels, minlength=10).tolist() == [2] * 10
    # pixel values identify the image: the three splits share none
    ids = {}
    for split in ("train", "val", "test"):
        raw, _ = load_tensors("cifar10", split, root=fake_cifar10, val_split=20, normalize=False)
        ids[split] = set(raw[:, 0, 1, 1].tolist())
    assert len(ids["train"]) == 80 and len(ids["val"]) == 20 and len(ids["test"]) == CIFAR_TEST
    assert not ids["train"] & ids["val"] and not ids["val"] & ids["test"] and not ids["train"] & ids["test"]
    again = load_dataset("cifar10", "val", root=fake_cifar10, val_split=20, seed=123)
    assert torch.equal(again.indices, val.indices)  # the run seed does not move the val split


def test_normalisation(fake_cifar10):
    x, _ = load_tensors("cifar10", "test", root=fake_cifar10)
    raw, _ = load_tensors("cifar10", "test", root=fake_cifar10, normalize=False)
    mean = torch.tensor([0.4914, 0.4822, 0.4465]).view(3, 1, 1)
    std = torch.tensor([0.2470, 0.2435, 0.2616]).view(3, 1, 1)
    assert torch.allclose(x, (raw.float() / 255 - mean) / std, atol=1e-6)
    seed_x, _ = load_tensors("cifar10", "test", root=fake_cifar10, normalization="seed")
    assert torch.allclose(seed_x, (raw.float() / 255 - mean) / torch.tensor([0.2023, 0.1994, 0.2010]).view(3, 1, 1),
                          atol=1e-6)


def test_cifar100_layout(tmp_path):
    directory = tmp_path / "cifar-100-python"
    directory.mkdir()
    for name, count in (("train", 200), ("test", 100)):
        batch = {"data": np.full((count, 3072), 7, dtype=np.uint8), "fine_labels": [k % 100 for k in range(count)],
                 "coarse_labels": [k % 20 for k in range(count)]}
        (directory / name).write_bytes(pickle.dumps(batch, protocol=2))
    (directory / "meta").write_bytes(pickle.dumps({"fine_label_names": [f"c{i}" for i in range(100)]}, protocol=2))
    val = load_dataset("cifar100", "val", root=tmp_path, val_split=100)
    assert len(val) == 100 and sorted(val.labels.tolist()) == list(range(100))
    assert len(load_dataset("cifar100", "test", root=tmp_path)) == 100


def test_code_in_a_pickle_is_refused(fake_cifar10, tmp_path):
    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    (fake_cifar10 / "cifar-10-batches-py" / "test_batch").write_bytes(pickle.dumps({"data": Exploit()}, protocol=2))
    with pytest.raises(DatasetError, match="refusing to load global"):
        load_dataset("cifar10", "test", root=fake_cifar10)
    assert not (tmp_path / "pwned").exists()


def test_missing_batch_names_the_path(fake_cifar10):
    (fake_cifar10 / "cifar-10-batches-py" / "data_batch_3").unlink()
    expected = fake_cifar10 / "cifar-10-batches-py"
    with pytest.raises(DatasetError) as caught:
        load_dataset("cifar10", "train", root=fake_cifar10, val_split=20)
    message = str(caught.value)
    assert "\n" not in message
    assert message == (f"dataset 'cifar10' not found: missing {expected}/data_batch_3; put the extracted archive at "
                       f"{expected} or rerun with --download; see datasets/README.md")


def test_val_split_errors(fake_cifar10):
    with pytest.raises(Exception, match="val_split=5000 leaves no training data"):
        load_dataset("cifar10", "train", root=fake_cifar10)  # the default 5000 exceeds the fake's 100
    with pytest.raises(Exception, match="no val split when val_split=0"):
        load_dataset("cifar10", "val", root=fake_cifar10, val_split=0)
    assert len(load_dataset("cifar10", "train", root=fake_cifar10, val_split=0)) == 100
