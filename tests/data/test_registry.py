import pytest

from sparsegraph.data import dataset_info, list_datasets, resolve_dataset_name
from sparsegraph.errors import BadInputError, DatasetError


def test_names():
    assert list_datasets() == ["cifar10", "cifar100", "digits", "fashion-mnist", "mnist", "tinyimagenet"]


@pytest.mark.parametrize("spelling, name", [
    ("fashionmnist", "fashion-mnist"), ("Fashion-MNIST", "fashion-mnist"), ("CIFAR-10", "cifar10"),
    ("tiny-imagenet", "tinyimagenet"), (" digits ", "digits"), ("cifar_100", "cifar100"),
])
def test_aliases(spelling, name):
    assert resolve_dataset_name(spelling) == name
    assert dataset_info(spelling).name == name


def test_infos_match_the_spec():
    cifar10, cifar100 = dataset_info("cifar10"), dataset_info("cifar100")
    assert (cifar10.num_classes, cifar10.input_shape, cifar10.crop_padding) == (10, (3, 32, 32), 4)
    assert cifar10.mean == (0.4914, 0.4822, 0.4465) and cifar10.std == (0.2470, 0.2435, 0.2616)
    assert cifar100.mean == (0.5071, 0.4865, 0.4409) and cifar100.std == (0.2673, 0.2564, 0.2762)
    assert cifar100.num_classes == 100
    tiny = dataset_info("tinyimagenet")
    assert (tiny.num_classes, tiny.input_shape, tiny.crop_padding, tiny.downloadable) == (200, (3, 64, 64), 4, False)
    for name in ("mnist", "fashion-mnist"):
        info = dataset_info(name)
        assert (info.input_shape, info.crop_padding, info.default_val_split) == ((1, 28, 28), None, 5000)
    digits = dataset_info("digits")
    assert (digits.input_shape, digits.pixel_max, digits.folder) == ((1, 8, 8), 16, None)
    assert digits.default_val_split is None


def test_unknown_name_suggests_close_matches():
    with pytest.raises(DatasetError, match=r"unknown dataset 'cifar11'; did you mean 'cifar10'") as caught:
        dataset_info("cifar11")
    assert isinstance(caught.value, BadInputError)
    assert "valid names: cifar10, cifar100, digits" in str(caught.value)
    with pytest.raises(DatasetError, match="must be a string"):
        dataset_info(10)
