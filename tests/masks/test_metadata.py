"""The text header of mask files."""

import json

import pytest

from sparsegraph import __version__
from sparsegraph.errors import MaskError
from sparsegraph.masks.metadata import FORMAT, make_header, metadata_from_header


def header(**metadata):
    return make_header(["b.weight", "a.weight"], fingerprint="f" * 16, model_fingerprint="0" * 16,
                       num_kept=3, numel=8, metadata=metadata)


def test_header_holds_computed_and_user_keys_as_text():
    text = header(generator="erk", seed=0, model_fingerprint="1" * 16)
    assert text == {
        "generator": "erk", "seed": "0", "model_fingerprint": "1" * 16,
        "format": FORMAT, "sparsegraph_version": __version__, "fingerprint": "f" * 16,
        "density": "0.375", "num_kept": "3", "numel": "8", "order": '["b.weight", "a.weight"]',
        "metadata": json.dumps({"generator": "erk", "model_fingerprint": "1" * 16, "seed": 0}),
    }
    assert list(text) == sorted(text)  # sorted keys: the same header whatever order the metadata came in
    assert header()["model_fingerprint"] == "0" * 16


def test_typed_metadata_round_trips_through_the_header():
    meta = {"seed": 0, "density_target": 0.05, "exclude": ["fc"], "trained": False, "x": None}
    assert metadata_from_header(header(**meta), "m") == meta


def test_foreign_headers_give_plain_text_metadata():
    assert metadata_from_header({"generator": "rigl", "density": "0.1", "order": "[]"}, "m") == {"generator": "rigl"}
    assert metadata_from_header({}, "m") == {}


def test_bad_headers():
    with pytest.raises(MaskError, match="^m.safetensors: header entry 'metadata' is not a JSON object$"):
        metadata_from_header({"format": FORMAT, "metadata": "[1, 2]"}, "m.safetensors")
    with pytest.raises(ValueError, match="metadata key 'order' is written by sparsegraph itself"):
        header(order="x")
    with pytest.raises(ValueError, match="JSON-serialisable"):
        header(ratio=float("nan"))
