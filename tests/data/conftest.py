"""Fake on-disk datasets in the real formats, written to tmp_path (a few images each)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

CIFAR_TRAIN_PER_BATCH = 20  # 5 batches -> 100 training images, 10 per class
CIFAR_TEST = 20


def cifar_image(value: int) -> np.ndarray:
    """A distinct 32x32 RGB image (flattened as in the batches): channel c holds (value + c) % 256,
    with one marker pixel so crops and flips are visible."""
    image = np.empty((3, 32, 32), dtype=np.uint8)
    for channel in range(3):
        image[channel] = (value + channel) % 256
    image[:, 0, 0] = 255
    return image.reshape(-1)


@pytest.fixture
def fake_cifar10(tmp_path: Path) -> Path:
    """``tmp_path/cifar-10-batches-py`` with data_batch_1..5, test_batch and batches.meta (pickle protocol 2).

    Image ``k`` (train: k = 0..99 in file order, test: k = 100..119) has label ``k % 10`` and pixels
    :func:`cifar_image(k)`.
    """
    directory = tmp_path / "cifar-10-batches-py"
    directory.mkdir()

    def write(name: str, first: int, count: int) -> None:
        keys = range(first, first + count)
        batch = {"batch_label": name, "labels": [k % 10 for k in keys],
                 "data": np.stack([cifar_image(k) for k in keys]),
                 "filenames": [f"img_{k}.png" for k in keys]}
        with open(directory / name, "wb") as file:
            pickle.dump(batch, file, protocol=2)

    for b in range(5):
        write(f"data_batch_{b + 1}", b * CIFAR_TRAIN_PER_BATCH, CIFAR_TRAIN_PER_BATCH)
    write("test_batch", 5 * CIFAR_TRAIN_PER_BATCH, CIFAR_TEST)
    meta = {"num_cases_per_batch": CIFAR_TRAIN_PER_BATCH, "num_vis": 3072,
            "label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                            "truck"]}
    with open(directory / "batches.meta", "wb") as file:
        pickle.dump(meta, file, protocol=2)
    return tmp_path


def write_idx(path: Path, array: np.ndarray) -> None:
    """An unsigned-byte IDX file (the MNIST format)."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">i4").tobytes()
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


@pytest.fixture
def fake_mnist(tmp_path: Path) -> Path:
    """``tmp_path/MNIST/raw`` with the four IDX files: 60 train and 20 test 28x28 images.

    Image ``k`` has label ``k % 10`` and every pixel ``k`` (train k = 0..59, test k = 60..79).
    """
    directory = tmp_path / "MNIST" / "raw"
    directory.mkdir(parents=True)
    for prefix, first, count in (("train", 0, 60), ("t10k", 60, 20)):
        keys = np.arange(first, first + count)
        write_idx(directory / f"{prefix}-images-idx3-ubyte",
                  np.broadcast_to(keys[:, None, None], (count, 28, 28)).astype(np.uint8))
        write_idx(directory / f"{prefix}-labels-idx1-ubyte", (keys % 10).astype(np.uint8))
    return tmp_path


TINY_WNIDS = ("n01443537", "n01629819", "n01641577")
TINY_TRAIN_PER_CLASS = 4
TINY_VAL_PER_CLASS = 2


def tiny_value(label: int) -> int:
    return 40 + 80 * label  # solid grey level per class; survives JPEG almost exactly


def _write_jpeg(path: Path, value: int, mode: str = "RGB") -> None:
    from PIL import Image

    size = (64, 64)
    Image.new(mode, size, value if mode == "L" else (value, value, value)).save(path, format="JPEG", quality=95)


@pytest.fixture
def fake_tinyimagenet(tmp_path: Path) -> Path:
    """``tmp_path/tiny-imagenet-200`` as extracted from the archive: 3 classes, 4 train and 2 val images each.

    Every image of class ``c`` is a solid grey ``tiny_value(c)``; one training image is greyscale (mode L),
    as a few real ones are. The val set uses the raw layout (``val/images`` + ``val_annotations.txt``)
    with the annotations in reverse class order.
    """
    directory = tmp_path / "tiny-imagenet-200"
    (directory / "val" / "images").mkdir(parents=True)
    (directory / "wnids.txt").write_text("\n".join(reversed(TINY_WNIDS)) + "\n")
    for label, wnid in enumerate(TINY_WNIDS):
        images = directory / "train" / wnid / "images"
        images.mkdir(parents=True)
        (directory / "train" / wnid / f"{wnid}_boxes.txt").write_text("")
        for i in range(TINY_TRAIN_PER_CLASS):
            _write_jpeg(images / f"{wnid}_{i}.JPEG", tiny_value(label), mode="L" if (label, i) == (1, 0) else "RGB")
    lines = []
    for label, wnid in reversed(list(enumerate(TINY_WNIDS))):
        for i in range(TINY_VAL_PER_CLASS):
            name = f"val_{label * TINY_VAL_PER_CLASS + i}.JPEG"
            _write_jpeg(directory / "val" / "images" / name, tiny_value(label))
            lines.append(f"{name}\t{wnid}\t0\t0\t63\t63")
    (directory / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return tmp_path


@pytest.fixture
def fake_formats():
    """The helpers and constants above, for tests (conftest is not importable under importlib mode)."""
    from types import SimpleNamespace

    return SimpleNamespace(cifar_image=cifar_image, CIFAR_TEST=CIFAR_TEST, write_idx=write_idx, tiny_value=tiny_value,
                           TINY_WNIDS=TINY_WNIDS, TINY_TRAIN_PER_CLASS=TINY_TRAIN_PER_CLASS,
                           TINY_VAL_PER_CLASS=TINY_VAL_PER_CLASS)
