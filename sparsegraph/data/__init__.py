"""Datasets: a registry of image classification sets, their splits and tensor transforms.

Typical use::

    from sparsegraph.data import load_dataset, load_tensors

    train = load_dataset("cifar10", "train")          # augmented, 45,000 images
    val = load_dataset("cifar10", "val")              # 5,000 held out, stratified, split seed 0
    x, y = load_tensors("digits", "train")            # float32 [1258, 1, 8, 8], int64 [1258]

See ``docs/datasets.md`` for where each dataset goes on disk.
"""

from sparsegraph.data.dataset import ImageDataset
from sparsegraph.data.loading import SPLITS, load_dataset, load_tensors
from sparsegraph.data.registry import DatasetInfo, dataset_info, list_datasets, resolve_dataset_name
from sparsegraph.data.root import DATA_ROOT_ENV, resolve_data_root
from sparsegraph.data.splits import SPLIT_SEED, stratified_split
from sparsegraph.data.transforms import crop_flip, normalize, random_crop_flip

__all__ = [
    "DATA_ROOT_ENV",
    "SPLITS",
    "SPLIT_SEED",
    "DatasetInfo",
    "ImageDataset",
    "crop_flip",
    "dataset_info",
    "list_datasets",
    "load_dataset",
    "load_tensors",
    "normalize",
    "random_crop_flip",
    "resolve_data_root",
    "resolve_dataset_name",
    "stratified_split",
]
