import shutil

import pytest
import torchvision.datasets.utils

from sparsegraph.data import load_dataset
from sparsegraph.errors import DatasetError


def test_cifar_download_only_when_asked_and_missing(fake_cifar10, tmp_path_factory, monkeypatch):
    root = tmp_path_factory.mktemp("root")
    calls = []

    def fake_download(url, download_root, filename=None, md5=None):
        calls.append((url, filename, md5))
        shutil.copytree(fake_cifar10 / "cifar-10-batches-py", f"{download_root}/cifar-10-batches-py")

    monkeypatch.setattr(torchvision.datasets.utils, "download_and_extract_archive", fake_download)
    with pytest.raises(DatasetError, match="or rerun with --download"):
        load_dataset("cifar10", "test", root=root)
    assert calls == []
    assert len(load_dataset("cifar10", "test", root=root, download=True)) == 20
    assert calls == [("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "cifar-10-python.tar.gz",
                      "c58f30108f718f92721af3b95e74349a")]
    load_dataset("cifar10", "test", root=root, download=True)
    assert len(calls) == 1  # already there: nothing fetched


def test_failed_download_is_a_dataset_error(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(torchvision.datasets.utils, "download_and_extract_archive", offline)
    with pytest.raises(DatasetError, match=f"dataset 'cifar100': download into {tmp_path} failed: network"):
        load_dataset("cifar100", "test", root=tmp_path, download=True)
