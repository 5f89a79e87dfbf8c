"""Scoring batches from a pair, a loader and a dataset (spec §1.9)."""

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import sparsegraph as sg
from sparsegraph.errors import BadInputError, UsageError
from sparsegraph.pruning.data import scoring_batches
from sparsegraph.utils.seed import derive_seed, make_generator


def dataset(n=200, classes=4):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, 8, 8, generator=g)
    y = torch.arange(n) % classes
    ds = TensorDataset(x, y)
    ds.targets = y
    return ds


def test_pair_is_one_batch_as_given():
    x, y = torch.randn(5, 3), torch.arange(5)
    [(bx, by)] = scoring_batches((x, y))
    assert bx is x or torch.equal(bx, x)
    assert torch.equal(by, y)


def test_loader_gives_its_first_batches():
    ds = dataset()
    loader = DataLoader(ds, batch_size=16, shuffle=False)
    batches = scoring_batches(loader, score_batches=3)
    assert len(batches) == 3 and torch.equal(batches[2][0], ds.tensors[0][32:48])
    with pytest.raises(BadInputError, match="yielded 13"):
        scoring_batches(loader, score_batches=20)


def test_dataset_draws_seeded_batches_without_replacement():
    ds = dataset()
    a = scoring_batches(ds, score_batches=3, score_batch_size=20, generator=make_generator(1))
    b = scoring_batches(ds, score_batches=3, score_batch_size=20, generator=make_generator(1))
    assert [x.shape[0] for x, _ in a] == [20, 20, 20]
    assert all(torch.equal(p[0], q[0]) for p, q in zip(a, b))
    rows = torch.cat([x for x, _ in a]).flatten(1)
    assert torch.unique(rows, dim=0).shape[0] == 60
    with pytest.raises(BadInputError, match="200 samples"):
        scoring_batches(ds, score_batches=3, score_batch_size=100, generator=make_generator(1))


def test_samples_per_class_is_balanced():
    ds = dataset()
    batches = scoring_batches(ds, score_batches=2, samples_per_class=5, generator=make_generator(0))
    labels = torch.cat([y for _, y in batches])
    assert len(batches) == 2 and torch.bincount(labels).tolist() == [5, 5, 5, 5]


def test_bad_forms_are_clear_errors():
    with pytest.raises(UsageError, match="needs labelled"):
        scoring_batches(None)
    with pytest.raises(UsageError, match="unsupported"):
        scoring_batches(3)
    with pytest.raises(BadInputError, match=r"\(x, y\)"):
        scoring_batches([torch.zeros(3)])


def test_snip_on_a_dataset_uses_the_data_stream(vgg):
    ds = dataset(classes=10)
    scores = sg.pruning.scores("snip", vgg, ds, seed=3, score_batch_size=32)
    [(x, y)] = scoring_batches(ds, score_batch_size=32, generator=make_generator(derive_seed(3, "data")))
    expected = sg.pruning.scores("snip", vgg, (x, y))
    assert all(torch.equal(scores[n], expected[n]) for n in scores)


class Flagged(torch.utils.data.Dataset):
    """Adds 100 to every image when its augment flag is on."""

    def __init__(self):
        self.augment = True
        self.labels = torch.arange(40) % 4

    def __len__(self):
        return 40

    def __getitem__(self, i):
        return torch.full((2,), float(i)) + (100.0 if self.augment else 0.0), int(self.labels[i])


def test_datasets_are_read_unaugmented_unless_asked():
    ds = Flagged()
    plain = scoring_batches(ds, score_batch_size=8, generator=make_generator(0))
    augmented = scoring_batches(ds, score_batch_size=8, score_augment=True, generator=make_generator(0))
    assert float(plain[0][0].max()) < 40 and float(augmented[0][0].min()) >= 100
    assert ds.augment is True                      # the caller's dataset is untouched
    balanced = scoring_batches(ds, samples_per_class=2, generator=make_generator(0))
    assert torch.bincount(balanced[0][1]).tolist() == [2, 2, 2, 2]


def test_digits_dataset_end_to_end():
    from sparsegraph.data import load_dataset

    train = load_dataset("digits", "train")
    model = sg.create_model("lenet5", num_classes=10, input_shape=(1, 8, 8))
    a = sg.pruning.run(model, "grasp", density=0.05, data=train, seed=0, samples_per_class=10, score_batches=2)
    b = sg.prune(model, "grasp", density=0.05, data=train, seed=0, samples_per_class=10, score_batches=2)
    total = sum(m.numel() for m in a.masks.values())
    assert a.masks.num_kept == round(0.05 * total) and a.masks == b
    synflow = sg.prune(model, "synflow", density=0.05, seed=0, rounds=10)     # shape from model.input_shape
    assert synflow.num_kept == a.masks.num_kept
