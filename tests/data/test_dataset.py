import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from sparsegraph.data import load_dataset, normalize
from sparsegraph.errors import UsageError

MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


def _candidates(raw: torch.Tensor) -> list[torch.Tensor]:
    """All 25 crops x 2 flips of one raw image, normalised."""
    padded = F.pad(raw, (4, 4, 4, 4))
    out = []
    for top in range(9):
        for left in range(9):
            crop = padded[:, top : top + 32, left : left + 32]
            out += [normalize(crop, 255, MEAN, STD), normalize(crop.flip(-1), 255, MEAN, STD)]
    return out


def test_augmented_items_are_crops_and_flips(fake_cifar10):
    train = load_dataset("cifar10", "train", root=fake_cifar10, val_split=20, seed=3)
    assert train.augment and not load_dataset("cifar10", "val", root=fake_cifar10, val_split=20).augment
    raw, _ = train.raw_tensors()
    changed = 0
    for position in range(len(train)):
        x, y = train[position]
        assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and y == int(train.labels[position])
        assert any(torch.allclose(x, c, atol=1e-6) for c in _candidates(raw[position]))
        changed += not torch.allclose(x, normalize(raw[position], 255, MEAN, STD), atol=1e-6)
    assert changed > len(train) // 2


def test_augmentation_is_fixed_by_seed_epoch_and_item(fake_cifar10):
    def items(seed, epoch):
        dataset = load_dataset("cifar10", "train", root=fake_cifar10, val_split=20, seed=seed)
        dataset.set_epoch(epoch)
        return torch.stack([dataset[i][0] for i in range(len(dataset))])

    assert torch.equal(items(3, 1), items(3, 1))
    assert not torch.equal(items(3, 1), items(3, 2))
    assert not torch.equal(items(3, 1), items(4, 1))
    dataset = load_dataset("cifar10", "train", root=fake_cifar10, val_split=20, seed=3)
    dataset.set_epoch(1)
    batches = [x for x, _ in DataLoader(dataset, batch_size=16, shuffle=False, num_workers=0)]
    assert torch.equal(torch.cat(batches), items(3, 1))  # per-item draws: no dependence on loader order


def test_unaugmented_is_plain_normalisation(fake_cifar10):
    test = load_dataset("cifar10", "test", root=fake_cifar10)
    raw, labels = test.raw_tensors()
    x, y = test[-1]
    assert torch.allclose(x, normalize(raw[-1], 255, MEAN, STD)) and y == int(labels[-1])
    x_all, _ = test.tensors()
    assert torch.allclose(x_all[3], test[3][0])


def test_bad_arguments(fake_cifar10):
    with pytest.raises(UsageError, match="unknown split 'valid'"):
        load_dataset("digits", "valid")
    with pytest.raises(UsageError, match="val_split must be a non-negative integer"):
        load_dataset("digits", "train", val_split=-5)
    with pytest.raises(UsageError, match="normalization 'seed' is not available for 'digits'"):
        load_dataset("digits", "train", normalization="seed")
    with pytest.raises(UsageError, match="'digits' has no augmentation"):
        load_dataset("digits", "train", augment=True)
