"""Where datasets live on disk, and the error for one that is not there."""

from __future__ import annotations

import os
from pathlib import Path

from sparsegraph.errors import DatasetError

#: Environment variable that sets the data root when no ``root`` is passed.
DATA_ROOT_ENV = "SPARSEGRAPH_DATA"


def resolve_data_root(root: str | os.PathLike | None = None) -> Path:
    """The data root: ``root`` if given, else ``$SPARSEGRAPH_DATA``, else ``./datasets``.

    The last default is the repository's ``datasets/`` folder when run from the repository root; it is
    resolved against the current working directory, not the installed package.
    """
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(DATA_ROOT_ENV)
    if env:
        return Path(env).expanduser()
    return Path.cwd() / "datasets"


def missing_dataset_error(name: str, expected: Path, archive_dir: Path, downloadable: bool) -> DatasetError:
    """The one-line error for a dataset whose file ``expected`` is missing under ``archive_dir``."""
    remedy = f"put the extracted archive at {archive_dir}"
    remedy += " or rerun with --download" if downloadable else " (it cannot be downloaded automatically)"
    return DatasetError(f"dataset '{name}' not found: missing {expected}; {remedy}; see datasets/README.md")
