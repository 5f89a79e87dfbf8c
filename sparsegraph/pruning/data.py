"""Scoring batches from the accepted data forms (spec pruning §1.9).

* an ``(x, y)`` tensor pair: used as one batch, as given;
* a DataLoader or any iterable of ``(x, y, ...)`` items: its first ``score_batches`` items, as given;
* a map-style dataset (``__getitem__`` + ``__len__``): ``score_batches`` batches of ``score_batch_size``
  drawn without replacement with the ``data`` stream, or a class-balanced set of ``samples_per_class``
  per class split into ``score_batches`` batches. A dataset with an ``augment`` flag (such as
  ``sparsegraph.data.ImageDataset``) is read without augmentation unless ``score_augment=True``; the
  caller's dataset object is not modified.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable

import torch

from sparsegraph.errors import BadInputError, UsageError

Batch = tuple[torch.Tensor, torch.Tensor]


def is_pair(data: object) -> bool:
    return (isinstance(data, (tuple, list)) and len(data) == 2
            and all(isinstance(t, torch.Tensor) for t in data))


def _is_dataset(data: object) -> bool:
    return (hasattr(data, "__getitem__") and hasattr(data, "__len__")
            and not isinstance(data, (torch.utils.data.DataLoader, tuple, list, torch.Tensor)))


def _dataset_labels(dataset) -> torch.Tensor:
    targets = getattr(dataset, "targets", getattr(dataset, "labels", None))
    if targets is not None:
        return torch.as_tensor(targets).reshape(-1)
    return torch.as_tensor([int(dataset[i][1]) for i in range(len(dataset))])


def _collate(dataset, indices: torch.Tensor) -> Batch:
    items = [dataset[int(i)] for i in indices]
    x = torch.stack([torch.as_tensor(item[0]) for item in items])
    y = torch.as_tensor([int(item[1]) for item in items], dtype=torch.int64)
    return x, y


def scoring_batches(data: object, *, score_batches: int = 1, score_batch_size: int = 128,
                    samples_per_class: int | None = None, score_augment: bool = False,
                    generator: torch.Generator | None = None,
                    device: torch.device | str | None = None) -> list[Batch]:
    """Return the labelled scoring batches, moved to ``device``.

    Args:
        data: an ``(x, y)`` pair, a DataLoader / iterable of ``(x, y)``, or a map-style dataset.
        score_batches: how many batches (loader, dataset).
        score_batch_size: batch size drawn from a dataset.
        samples_per_class: draw a class-balanced set of this many per class from a dataset instead.
        score_augment: keep a dataset's augmentation on (default: read it unaugmented).
        generator: the ``data`` stream for dataset draws.
        device: where the batches go.

    Raises:
        UsageError: no data, or options that do not fit the form.
        BadInputError: data that yields fewer batches than asked or items that are not (x, y).
    """
    if data is None:
        raise UsageError("this generator needs labelled scoring data (data=...)")
    if score_batches < 1 or score_batch_size < 1:
        raise UsageError("score_batches and score_batch_size must be >= 1")
    if is_pair(data):
        batches = [(data[0], data[1])]
    elif _is_dataset(data):
        if generator is None:
            raise UsageError("drawing scoring batches from a dataset needs a generator")
        if not score_augment and getattr(data, "augment", False):
            data = copy.copy(data)
            data.augment = False
        if samples_per_class is not None:
            labels = _dataset_labels(data)
            chosen = []
            for label in torch.unique(labels):
                members = torch.nonzero(labels == label, as_tuple=True)[0]
                if members.numel() < samples_per_class:
                    raise BadInputError(f"class {int(label)} has only {members.numel()} samples, "
                                        f"samples_per_class={samples_per_class}")
                chosen.append(members[torch.randperm(members.numel(), generator=generator)[:samples_per_class]])
            indices = torch.cat(chosen)
            batches = [_collate(data, part) for part in torch.tensor_split(indices, score_batches)]
        else:
            need = score_batches * score_batch_size
            if need > len(data):
                raise BadInputError(f"the dataset has {len(data)} samples, {need} were asked for scoring")
            indices = torch.randperm(len(data), generator=generator)[:need]
            batches = [_collate(data, part) for part in indices.split(score_batch_size)]
    elif isinstance(data, Iterable):
        batches = []
        for item in itertools.islice(data, score_batches):
            if not isinstance(item, (tuple, list)) or len(item) < 2:
                raise BadInputError("scoring data items must be (x, y) pairs")
            batches.append((item[0], item[1]))
        if len(batches) < score_batches:
            raise BadInputError(f"the scoring data yielded {len(batches)} batches, {score_batches} were asked")
    else:
        raise UsageError(f"unsupported scoring data of type {type(data).__name__}: "
                         "give a dataset, a DataLoader or an (x, y) pair")
    return [(x.to(device), y.to(device)) for x, y in batches]
