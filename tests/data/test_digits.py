import importlib.util
from pathlib import Path

import numpy as np
import pytest

from sparsegraph.data import load_dataset, load_tensors, stratified_split
from sparsegraph.data.digits import DIGITS_SHA256, digits_checksum, read_digits
from sparsegraph.data.splits import stratified_counts
from sparsegraph.errors import DatasetError

PINNED_SHA256 = "5a2312e5c4a1ce227c9a7f5052f6a49a2eab482b08420744abe945f0d4cfc938"
REPO = Path(__file__).resolve().parents[2]


def test_contents_and_checksum():
    arrays = read_digits()
    assert arrays["images"].shape == (1797, 8, 8) and arrays["images"].dtype == np.uint8
    assert arrays["labels"].shape == (1797,) and arrays["labels"].dtype == np.int64
    assert arrays["images"].min() == 0 and arrays["images"].max() == 16
    assert np.bincount(arrays["labels"]).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert digits_checksum(arrays) == PINNED_SHA256 == DIGITS_SHA256


def test_fixed_split_is_stratified_70_10_20():
    arrays = read_digits()
    labels = arrays["labels"]
    train, val, test = arrays["train"], arrays["val"], arrays["test"]
    assert (len(train), len(val), len(test)) == (1258, 180, 359)
    assert np.array_equal(np.sort(np.concatenate([train, val, test])), np.arange(1797))
    sizes = np.bincount(labels)
    assert np.array_equal(np.bincount(labels[test], minlength=10), stratified_counts(sizes, 359))
    rest_sizes = sizes - np.bincount(labels[test], minlength=10)
    assert np.array_equal(np.bincount(labels[val], minlength=10), stratified_counts(rest_sizes, 180))


def test_split_is_reproduced_by_the_build_script():
    spec = importlib.util.spec_from_file_location("make_digits", REPO / "datasets" / "make_digits.py")
    make_digits = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_digits)
    arrays = read_digits()
    for made, stored in zip(make_digits.make_split(arrays["labels"]), (arrays["train"], arrays["val"], arrays["test"])):
        assert np.array_equal(made, stored)
    _, test = stratified_split(arrays["labels"], 359)
    assert np.array_equal(test, arrays["test"])


def test_loaded_values_in_unit_interval():
    info_mean, info_std = 0.3053, 0.3762
    for split, size in (("train", 1258), ("val", 180), ("test", 359)):
        raw, labels = load_tensors("digits", split, normalize=False)
        x, y = load_tensors("digits", split)
        assert raw.shape == (size, 1, 8, 8) and x.shape == (size, 1, 8, 8) and x.dtype.is_floating_point
        assert np.array_equal(labels.numpy(), y.numpy())
        scaled = x * info_std + info_mean
        assert float(scaled.min()) >= -1e-6 and float(scaled.max()) <= 1 + 1e-6
        assert np.allclose(scaled.numpy(), raw.numpy() / 16.0, atol=1e-6)
    x, _ = load_tensors("digits", "train")
    assert abs(float(x.mean())) < 1e-3 and abs(float(x.std()) - 1) < 1e-3  # train mean/std in the registry


def test_fixed_split_through_the_registry():
    arrays = read_digits()
    assert np.array_equal(load_dataset("digits", "val", val_split=5000).indices.numpy(), arrays["val"])
    assert np.array_equal(load_dataset("digits", "test").indices.numpy(), arrays["test"])
    merged = load_dataset("digits", "train", val_split=0)
    assert len(merged) == 1258 + 180
    assert np.array_equal(merged.indices.numpy(), np.sort(np.concatenate([arrays["train"], arrays["val"]])))


def test_corrupted_file_is_refused(tmp_path):
    arrays = dict(read_digits())
    arrays["labels"] = arrays["labels"].copy()
    arrays["labels"][0] = (arrays["labels"][0] + 1) % 10
    np.savez_compressed(tmp_path / "digits.npz", **arrays)
    with pytest.raises(DatasetError, match="does not match its pinned checksum"):
        read_digits(tmp_path / "digits.npz")
    with pytest.raises(DatasetError, match="cannot read"):
        read_digits(tmp_path / "absent.npz")
