"""Mask and model fingerprints."""

import hashlib
import json

import numpy as np
import torch
from torch import nn
from torch.nn.utils import prune

from sparsegraph.masks import MaskSet, mask_fingerprint, model_fingerprint


def test_model_fingerprint_is_sha256_of_names_and_shapes(net, shapes):
    table = json.dumps([[name, list(shape)] for name, shape in shapes.items()]).encode()
    expected = hashlib.sha256(b"sparsegraph.model/1\n" + table).hexdigest()[:16]
    assert model_fingerprint(net) == expected
    assert model_fingerprint(shapes) == expected
    assert model_fingerprint({n: torch.zeros(s) for n, s in shapes.items()}) == expected
    assert model_fingerprint({n: np.zeros(s) for n, s in shapes.items()}) == expected
    assert model_fingerprint(MaskSet({n: torch.ones(s) for n, s in shapes.items()})) == expected


def test_model_fingerprint_ignores_weights_and_non_maskable_parameters(net, make_net):
    other = make_net()
    with torch.no_grad():
        other.fc.weight.zero_()
        other.bn1.weight.fill_(3.0)
    assert model_fingerprint(other) == model_fingerprint(net)
    prune.l1_unstructured(other.fc, "weight", amount=0.5)  # weight_orig still counts as fc.weight
    assert model_fingerprint(other) == model_fingerprint(net)


def test_model_fingerprint_sees_names_shapes_and_order(net, make_net, shapes):
    assert model_fingerprint(make_net(7)) != model_fingerprint(net)
    assert model_fingerprint(dict(reversed(list(shapes.items())))) != model_fingerprint(shapes)
    assert model_fingerprint({**shapes, "fc.weight": (6, 5)}) != model_fingerprint(shapes)
    assert model_fingerprint(nn.Sequential(nn.Linear(6, 5))) != model_fingerprint(nn.Linear(6, 5))


def test_mask_fingerprint_packs_bits_in_c_order():
    mask = torch.tensor([[True, False, True], [False, False, True]])
    table = json.dumps([["w", [2, 3]]]).encode()
    expected = hashlib.sha256(b"sparsegraph.masks/1\n" + table + bytes([0b10100100])).hexdigest()[:16]
    assert mask_fingerprint({"w": mask}) == expected == MaskSet({"w": mask}).fingerprint()
    assert mask_fingerprint({"w": mask.T.contiguous().T}) == expected  # memory layout does not matter
