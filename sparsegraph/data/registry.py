"""The dataset registry: names, aliases and what each dataset is (:class:`DatasetInfo`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sparsegraph.errors import DatasetError
from sparsegraph.registry import Registry


@dataclass(frozen=True)
class DatasetInfo:
    """What a registered dataset is and how its images are prepared.

    Attributes:
        name: canonical name (what :func:`list_datasets` returns).
        description: one line for listings.
        num_classes: number of classes.
        input_shape: ``(C, H, W)`` of one image as the model sees it.
        mean, std: per-channel normalisation, applied after scaling pixels by ``1 / pixel_max``.
        pixel_max: the largest raw pixel value (255; 16 for ``digits``).
        crop_padding: training augmentation: random crop of the original size after zero padding by
            this many pixels, plus a horizontal flip; None for datasets trained without augmentation.
        folder: where the files go, relative to the data root (None: shipped in the package).
        downloadable: whether ``download=True`` can fetch it (torchvision downloaders).
        default_val_split: size of the default class-stratified val split taken from the training
            set; None where the dataset ships its own fixed split (``digits``).
        aliases: other accepted names.
    """

    name: str
    description: str
    num_classes: int
    input_shape: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    pixel_max: int
    crop_padding: int | None
    folder: str | None
    downloadable: bool
    default_val_split: int | None
    aliases: tuple[str, ...] = ()


#: Standard deviations used by the seed's code for CIFAR-10 (``normalization="seed"``).
SEED_CIFAR10_STD = (0.2023, 0.1994, 0.2010)

def _key(name: str) -> str:
    """Spelling-insensitive lookup key: lower case without '-', '_' or spaces."""
    return re.sub(r"[-_\s]", "", name.strip().lower())


#: Every dataset: name (or alias, any spelling) -> DatasetInfo.
DATASETS: Registry[DatasetInfo] = Registry("dataset", error=DatasetError, key=_key, lower=True,
                                           listing=lambda: "valid names: " + ", ".join(list_datasets()))

for _info in (
    DatasetInfo("cifar10", "CIFAR-10: 60,000 32x32 colour images in 10 classes (50,000 train, 10,000 test)",
                10, (3, 32, 32), (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), 255, 4,
                "cifar-10-batches-py", True, 5000, ("cifar-10",)),
    DatasetInfo("cifar100", "CIFAR-100: 60,000 32x32 colour images in 100 classes (50,000 train, 10,000 test)",
                100, (3, 32, 32), (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762), 255, 4,
                "cifar-100-python", True, 5000, ("cifar-100",)),
    DatasetInfo("mnist", "MNIST: 70,000 28x28 handwritten digits (60,000 train, 10,000 test)",
                10, (1, 28, 28), (0.1307,), (0.3081,), 255, None, "MNIST/raw", True, 5000),
    DatasetInfo("fashion-mnist", "Fashion-MNIST: 70,000 28x28 clothing images in 10 classes "
                "(60,000 train, 10,000 test)",
                10, (1, 28, 28), (0.2860,), (0.3530,), 255, None, "FashionMNIST/raw", True, 5000,
                ("fashionmnist", "fashion_mnist")),
    DatasetInfo("tinyimagenet", "Tiny-ImageNet: 64x64 colour images in 200 classes (100,000 train; the "
                "official 10,000-image val set is the test set)",
                200, (3, 64, 64), (0.4802, 0.4481, 0.3975), (0.2302, 0.2265, 0.2262), 255, 4,
                "tiny-imagenet-200", False, 5000, ("tiny-imagenet", "tiny-imagenet-200")),
    # mean/std: the fixed train split of digits.npz, pixels scaled by 1/16 (printed by make_digits.py)
    DatasetInfo("digits", "8x8 handwritten digits (UCI, via scikit-learn): 1,797 images in 10 classes, "
                "shipped in the package, fixed 70/10/20 split",
                10, (1, 8, 8), (0.3053,), (0.3762,), 16, None, None, False, None),
):
    DATASETS.register(_info.name, _info, aliases=_info.aliases)


def resolve_dataset_name(name: str) -> str:
    """The canonical name of ``name`` or an alias of it (case, '-' and '_' do not matter).

    Raises:
        DatasetError: unknown name; the message lists close matches and the valid names.
    """
    if not isinstance(name, str):
        raise DatasetError(f"dataset name must be a string, got {name!r}")
    return DATASETS.canonical(name)


def list_datasets() -> list[str]:
    """Canonical names of the registered datasets, sorted."""
    return sorted(DATASETS.names())


def dataset_info(name: str) -> DatasetInfo:
    """The :class:`DatasetInfo` of ``name`` (any accepted spelling)."""
    return DATASETS.get(resolve_dataset_name(name))
