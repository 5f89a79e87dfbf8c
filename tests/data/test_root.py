from pathlib import Path

from sparsegraph.data import DATA_ROOT_ENV, resolve_data_root
from sparsegraph.data.root import missing_dataset_error


def test_precedence(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(DATA_ROOT_ENV, raising=False)
    assert resolve_data_root() == tmp_path / "datasets"
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path / "env"))
    assert resolve_data_root() == tmp_path / "env"
    assert resolve_data_root(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_root("~/x") == Path.home() / "x"


def test_missing_message_is_one_line_with_remedy(tmp_path):
    error = missing_dataset_error("mnist", tmp_path / "MNIST/raw/f", tmp_path / "MNIST/raw", downloadable=True)
    assert str(error) == (f"dataset 'mnist' not found: missing {tmp_path}/MNIST/raw/f; put the extracted archive "
                          f"at {tmp_path}/MNIST/raw or rerun with --download; see datasets/README.md")
