"""Re-lay Tiny-ImageNet's official val set as ``val/<wnid>/<file>`` (ImageFolder layout).

The archive (http://cs231n.stanford.edu/tiny-imagenet-200.zip) ships ``val/images/*.JPEG`` with the
labels in ``val/val_annotations.txt``. sparsegraph reads that layout as it is, so this step is optional;
it makes the val folder usable by any ImageFolder reader. Files are moved (not copied); the annotation
file is kept; the emptied ``val/images`` folder is removed. Running it twice is harmless.

Usage (from the repository root)::

    python datasets/prepare_tinyimagenet.py [datasets/tiny-imagenet-200]
"""

from __future__ import annotations

import argparse
from pathlib import Path


def relay_val(directory: Path) -> int:
    """Move every annotated image of ``directory/val/images`` to ``directory/val/<wnid>/``; return the count."""
    val = directory / "val"
    images = val / "images"
    annotations = val / "val_annotations.txt"
    if not annotations.is_file():
        raise SystemExit(f"{annotations} not found: is {directory} an extracted tiny-imagenet-200 archive?")
    moved = 0
    for line in annotations.read_text().splitlines():
        fields = line.split("\t")
        if len(fields) < 2:
            continue
        source = images / fields[0]
        if source.is_file():
            target = val / fields[1] / fields[0]
            target.parent.mkdir(exist_ok=True)
            source.replace(target)
            moved += 1
    if images.is_dir() and not any(images.iterdir()):
        images.rmdir()
    return moved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, nargs="?", default=Path(__file__).parent / "tiny-imagenet-200")
    args = parser.parse_args()
    moved = relay_val(args.directory)
    print(f"moved {moved} images into {args.directory / 'val'}/<wnid>/")


if __name__ == "__main__":
    main()
