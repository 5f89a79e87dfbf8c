"""Downloads through torchvision's downloaders (only on request: ``download=True`` / ``--download``)."""

from __future__ import annotations

from pathlib import Path

from sparsegraph.errors import DatasetError


def download_dataset(name: str, root: Path) -> None:
    """Fetch ``name`` into ``root`` in the layout the readers expect (checksums verified by torchvision).

    CIFAR archives are fetched and extracted with ``download_and_extract_archive`` (torchvision's CIFAR
    classes would also unpickle the batches, which the readers do safely instead); MNIST and
    Fashion-MNIST with their torchvision classes, which write ``<root>/MNIST/raw`` and
    ``<root>/FashionMNIST/raw``.
    """
    from torchvision import datasets
    from torchvision.datasets.utils import download_and_extract_archive

    root.mkdir(parents=True, exist_ok=True)
    try:
        if name in ("cifar10", "cifar100"):
            cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
            if not (root / cls.base_folder).is_dir():
                download_and_extract_archive(cls.url, str(root), filename=cls.filename, md5=cls.tgz_md5)
        elif name in ("mnist", "fashion-mnist"):
            cls = datasets.MNIST if name == "mnist" else datasets.FashionMNIST
            for train in (True, False):
                cls(str(root), train=train, download=True)
        else:
            raise DatasetError(f"dataset '{name}' cannot be downloaded automatically; see datasets/README.md")
    except OSError as error:  # URLError is an OSError
        raise DatasetError(f"dataset '{name}': download into {root} failed: {error}") from None
