"""Tiny-ImageNet (``tiny-imagenet-200/``) read as an ImageFolder; its official val set is our test set.

Class indices follow ImageFolder: the sorted WordNet ids (``wnids.txt``, else the ``train/`` folders).
The val set is read in either layout: re-laid out as ``val/<wnid>/...`` (``datasets/prepare_tinyimagenet.py``)
or the archive's own ``val/images/`` + ``val/val_annotations.txt``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from sparsegraph.data.root import missing_dataset_error
from sparsegraph.data.source import FileSource
from sparsegraph.errors import DatasetError

FOLDER = "tiny-imagenet-200"
IMAGE_SUFFIXES = {".jpeg", ".jpg", ".png"}
SHAPE = (3, 64, 64)


def _images_under(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def read_wnids(directory: Path) -> list[str]:
    """The sorted class ids: ``wnids.txt`` if present, else the folder names under ``train/``."""
    wnids_file = directory / "wnids.txt"
    if wnids_file.is_file():
        return sorted({line.strip() for line in wnids_file.read_text().splitlines() if line.strip()})
    return sorted(p.name for p in (directory / "train").iterdir() if p.is_dir())


def _class_folders(directory: Path, wnids: list[str]) -> tuple[list[Path], list[int]]:
    paths: list[Path] = []
    labels: list[int] = []
    for label, wnid in enumerate(wnids):
        found = _images_under(directory / wnid) if (directory / wnid).is_dir() else []
        paths += found
        labels += [label] * len(found)
    return paths, labels


def _annotated_val(directory: Path, wnids: list[str]) -> tuple[list[Path], list[int]]:
    label_of = {wnid: label for label, wnid in enumerate(wnids)}
    annotations = directory / "val_annotations.txt"
    paths: list[Path] = []
    labels: list[int] = []
    for number, line in enumerate(annotations.read_text().splitlines(), start=1):
        fields = line.split("\t")
        if not line.strip():
            continue
        if len(fields) < 2 or fields[1] not in label_of:
            raise DatasetError(f"{annotations}:{number}: expected '<file>\\t<wnid>...' with a known wnid")
        paths.append(directory / "images" / fields[0])
        labels.append(label_of[fields[1]])
    return paths, labels


def read_tinyimagenet(root: Path, part: str) -> FileSource:
    """The ``part`` ("train", or "test" = the official val set) of Tiny-ImageNet under ``root``."""
    directory = root / FOLDER
    sub = directory / ("train" if part == "train" else "val")
    if not sub.is_dir():
        raise missing_dataset_error("tinyimagenet", sub, directory, downloadable=False)
    wnids = read_wnids(directory)
    if part == "train":
        paths, labels = _class_folders(sub, wnids)
    elif any((sub / wnid).is_dir() for wnid in wnids):
        paths, labels = _class_folders(sub, wnids)
    elif (sub / "val_annotations.txt").is_file():
        paths, labels = _annotated_val(sub, wnids)
    else:
        raise missing_dataset_error("tinyimagenet", sub / "val_annotations.txt", directory, downloadable=False)
    if not paths:
        raise DatasetError(f"dataset 'tinyimagenet': no images found under {sub}")
    return FileSource(tuple(paths), torch.tensor(labels, dtype=torch.int64), tuple(wnids), SHAPE)
