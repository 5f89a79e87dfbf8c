"""Build ``sparsegraph/data/digits.npz`` from the digits CSV shipped in a scikit-learn wheel (run once).

The 8x8 handwritten digits are the UCI "Optical Recognition of Handwritten Digits" data as distributed
with scikit-learn (``sklearn/datasets/data/digits.csv.gz``: 1,797 rows of 64 pixel values 0-16 and the
label). scikit-learn is not needed at run time, nor to run this script: download the wheel and point the
script at it::

    pip download --no-deps scikit-learn -d /tmp/skl
    PYTHONPATH=. python datasets/make_digits.py /tmp/skl/scikit_learn-*.whl   # from the repository root

The split is a class-stratified 70/10/20 train/val/test split by index made with
:func:`sparsegraph.data.splits.stratified_split` and split seed 0 (test first from all images, then val
from the rest), so re-running the script on the same CSV reproduces the file byte for byte.
"""

from __future__ import annotations

import argparse
import gzip
import io
import zipfile
from pathlib import Path

import numpy as np

from sparsegraph.data.digits import DIGITS_PATH, digits_checksum
from sparsegraph.data.splits import stratified_split

CSV_MEMBER = "sklearn/datasets/data/digits.csv.gz"
SPLIT_SEED = 0


def read_wheel_csv(wheel: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 [N, 8, 8] and labels int64 [N] from the digits CSV inside a scikit-learn wheel."""
    with zipfile.ZipFile(wheel) as archive:
        raw = gzip.decompress(archive.read(CSV_MEMBER))
    table = np.loadtxt(io.BytesIO(raw), delimiter=",", dtype=np.float64)
    if table.shape != (1797, 65) or not np.array_equal(table, np.round(table)):
        raise SystemExit(f"unexpected digits table {table.shape} in {wheel}")
    images = table[:, :64].astype(np.uint8).reshape(-1, 8, 8)
    labels = table[:, 64].astype(np.int64)
    return images, labels


def make_split(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified 70/10/20 train/val/test indices (sorted, int64)."""
    n = len(labels)
    num_test, num_val = round(0.2 * n), round(0.1 * n)
    rest, test = stratified_split(labels, num_test, seed=SPLIT_SEED)
    train_in_rest, val_in_rest = stratified_split(labels[rest], num_val, seed=SPLIT_SEED)
    return rest[train_in_rest], rest[val_in_rest], test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="a scikit-learn wheel (pip download --no-deps scikit-learn)")
    parser.add_argument("-o", "--output", type=Path, default=DIGITS_PATH)
    args = parser.parse_args()
    images, labels = read_wheel_csv(args.wheel)
    train, val, test = make_split(labels)
    arrays = {"images": images, "labels": labels, "train": train, "val": val, "test": test}
    np.savez_compressed(args.output, **arrays)
    scaled = images[train].astype(np.float64) / 16.0
    print(f"wrote {args.output}: {len(images)} images, split {len(train)}/{len(val)}/{len(test)}")
    print(f"sha256 of the arrays: {digits_checksum(arrays)}")
    print(f"train mean {scaled.mean():.4f} std {scaled.std():.4f}")


if __name__ == "__main__":
    main()
