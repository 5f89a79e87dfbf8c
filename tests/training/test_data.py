import torch

from sparsegraph.training import TensorSplit, load_train_data
from sparsegraph.training.batches import iterate_train


def test_digits_are_held_as_raw_tensors_and_normalised_per_batch():
    data = load_train_data("digits")
    assert isinstance(data.train, TensorSplit)
    assert (len(data.train), len(data.val), len(data.test)) == (1258, 180, 359)
    assert data.train.x.dtype == torch.uint8 and data.train.crop_padding == 0
    x, y = data.train.batch(torch.arange(4))
    expected = (data.train.x[:4].float() / 16 - data.train.mean[0]) / data.train.std[0]
    assert torch.allclose(x, expected)
    assert torch.equal(y, data.train.y[:4])


def test_val_split_zero_merges_val_into_train():
    data = load_train_data("digits", val_split=0)
    assert data.val is None and len(data.train) == 1438


def test_epoch_order_and_augmentation_are_seeded():
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.uint8).reshape(2, 3, 6, 6).repeat(4, 1, 1, 1)
    split = TensorSplit(x, torch.arange(8), 255.0, (0.5,) * 3, (0.25,) * 3, crop_padding=2)
    first = [b[0] for b in iterate_train(split, 3, seed=1, epoch=0, device=torch.device("cpu"))]
    again = [b[0] for b in iterate_train(split, 3, seed=1, epoch=0, device=torch.device("cpu"))]
    other = [b[0] for b in iterate_train(split, 3, seed=1, epoch=1, device=torch.device("cpu"))]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))
    assert [t.shape[0] for t in first] == [3, 3, 2]
