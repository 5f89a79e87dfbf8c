"""MaskSet: construction, statistics, equality, from_model, apply, check_fits."""

import copy
import warnings

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from sparsegraph.errors import BadInputError, MaskError
from sparsegraph.masks import MaskSet, model_fingerprint


def counted_masks():
    """conv1 keeps its first 27 of 108 entries, block.0 all 216, fc none of 30: K = 243, N = 354."""
    conv1 = torch.zeros(108, dtype=torch.bool)
    conv1[:27] = True
    return {"conv1.weight": conv1.reshape(4, 3, 3, 3),
            "block.0.weight": torch.ones(6, 4, 3, 3, dtype=torch.bool),
            "fc.weight": torch.zeros(5, 6, dtype=torch.bool)}


def test_mapping_keeps_order_and_stores_cpu_bool():
    masks = MaskSet({"fc.weight": np.ones((5, 6), dtype=np.uint8), "conv1.weight": torch.ones(4, 3, 3, 3)})
    assert list(masks) == ["fc.weight", "conv1.weight"]
    assert len(masks) == 2 and "fc.weight" in masks and "bn1.weight" not in masks
    for mask in masks.values():
        assert mask.dtype == torch.bool and mask.device.type == "cpu" and mask.is_contiguous()
    assert masks["fc.weight"].shape == (5, 6)


@pytest.mark.parametrize("value", [
    torch.tensor([[0.0, 1.0], [1.0, 0.0]]),
    torch.tensor([[0, 1], [1, 0]], dtype=torch.int64),
    np.array([[False, True], [True, False]]),
    np.array([[0, 1], [1, 0]], dtype=np.uint8),
])
def test_from_dict_accepts_bool_and_01_numbers(value):
    masks = MaskSet.from_dict({"fc.weight": value}, metadata={"generator": "manual"})
    assert masks["fc.weight"].tolist() == [[False, True], [True, False]]
    assert masks.metadata == {"generator": "manual"}


def test_density_and_layer_densities_exact():
    masks = MaskSet(counted_masks())
    assert masks.numel == 354
    assert masks.num_kept == 243
    assert masks.density == 243 / 354
    assert masks.layer_densities() == {"conv1.weight": 0.25, "block.0.weight": 1.0, "fc.weight": 0.0}
    assert list(masks.layer_densities()) == list(masks)


def test_empty_maskset_prunes_nothing():
    masks = MaskSet()
    assert len(masks) == 0 and masks.numel == 0 and masks.num_kept == 0 and masks.density == 1.0
    assert masks == MaskSet({}) and masks.metadata == {}


def test_equality_compares_names_order_and_bits_not_metadata():
    base = counted_masks()
    a = MaskSet(base, {"seed": 0})
    assert a == MaskSet({k: v.clone() for k, v in base.items()}, {"seed": 1})
    assert a != MaskSet(dict(reversed(list(base.items()))))
    flipped = {k: v.clone() for k, v in base.items()}
    flipped["fc.weight"][4, 5] = True
    assert a != MaskSet(flipped)
    assert a != {k: v for k, v in base.items()}  # a plain dict is not a MaskSet
    with pytest.raises(TypeError):
        hash(a)


def test_fingerprint_is_stable_and_sees_one_bit():
    masks = MaskSet(counted_masks())
    # Pinned: the fingerprint must not change between versions for the same names, shapes and bits.
    assert masks.fingerprint() == "ba6fb6adb4232928"
    assert len(masks.fingerprint()) == 16 and int(masks.fingerprint(), 16) >= 0
    assert MaskSet(counted_masks()).fingerprint() == masks.fingerprint()
    for name in masks:
        flipped = {k: v.clone() for k, v in counted_masks().items()}
        flipped[name].view(-1)[-1] ^= True
        assert MaskSet(flipped).fingerprint() != masks.fingerprint(), name
    renamed = {("fc2.weight" if k == "fc.weight" else k): v for k, v in counted_masks().items()}
    assert MaskSet(renamed).fingerprint() != masks.fingerprint()
    reshaped = {**counted_masks(), "fc.weight": torch.zeros(6, 5, dtype=torch.bool)}
    assert MaskSet(reshaped).fingerprint() != masks.fingerprint()


def test_to_device_keeps_bits_and_metadata():
    masks = MaskSet(counted_masks(), {"seed": 3})
    moved = masks.to("cpu")
    assert moved == masks and moved.metadata == {"seed": 3} and moved.fingerprint() == masks.fingerprint()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_to_cuda_and_apply_on_cuda(net):
    masks = MaskSet(counted_masks())
    on_gpu = masks.to("cuda")
    assert all(m.is_cuda for m in on_gpu.values()) and on_gpu == masks
    assert on_gpu.density == masks.density and on_gpu.fingerprint() == masks.fingerprint()
    net = net.cuda()
    masks.apply(net)
    assert float(net.fc.weight.abs().sum()) == 0.0


# ---- values that are not masks ----------------------------------------------------------------

@pytest.mark.parametrize("value, needle", [
    (torch.tensor([0.0, 0.5, 1.0]), "non-boolean value 0.5"),
    (np.array([0, 2, 1]), "non-boolean value 2"),
    (torch.tensor([1.0, float("inf")]), "non-boolean value inf"),
    (torch.tensor([1.0, float("nan")]), "contains NaN"),
    (np.array(["a", "b"]), "dtype <U1"),
    (torch.tensor([1 + 0j]), "dtype torch.complex64"),
    ([1, 0, 1], "is a list, expected a tensor or numpy array"),
])
def test_non_mask_values_raise_mask_error_naming_the_parameter(value, needle):
    with pytest.raises(MaskError) as info:
        MaskSet({"layer1.0.conv1.weight": value})
    message = str(info.value)
    assert "parameter 'layer1.0.conv1.weight'" in message and needle in message
    assert "\n" not in message
    assert isinstance(info.value, BadInputError)


def test_masks_that_keep_nothing_are_rejected():
    with pytest.raises(MaskError, match=r"keep no weight at all \(2 parameters, every entry 0\)"):
        MaskSet({"a.weight": torch.zeros(3, 3), "b.weight": torch.zeros(2, dtype=torch.bool)})


def test_bad_names_are_rejected():
    with pytest.raises(MaskError, match="mask name 3 is not a parameter name"):
        MaskSet({3: torch.ones(2)})


# ---- from_model ---------------------------------------------------------------------------------

def test_from_model_without_prune_buffers_is_empty(net):
    assert len(MaskSet.from_model(net)) == 0


def test_from_model_infers_masks_from_exact_zeros(net):
    with torch.no_grad():
        net.conv1.weight[0] = 0.0
        net.fc.weight[:, 2] = 0.0
    masks = MaskSet.from_model(net, infer_from_zeros=True)
    assert list(masks) == ["conv1.weight", "block.0.weight", "fc.weight"]
    for name, module in [("conv1.weight", net.conv1), ("block.0.weight", net.block[0]), ("fc.weight", net.fc)]:
        assert torch.equal(masks[name], module.weight != 0)
    assert masks.num_kept == 354 - 27 - 5
    assert masks.metadata == {"generator": "nonzero", "model_fingerprint": model_fingerprint(net)}


def test_from_model_reads_torch_prune_buffers(net):
    prune.l1_unstructured(net.fc, "weight", amount=0.5)
    prune.l1_unstructured(net.conv1, "weight", amount=0.75)
    masks = MaskSet.from_model(net)
    assert list(masks) == ["conv1.weight", "fc.weight"]  # MaskSet order, dense block.0 absent
    assert torch.equal(masks["conv1.weight"], net.conv1.weight_mask.bool())
    assert torch.equal(masks["fc.weight"], net.fc.weight_mask.bool())
    assert masks.layer_densities() == {"conv1.weight": 27 / 108, "fc.weight": 15 / 30}
    assert masks.metadata["generator"] == "torch.nn.utils.prune"
    # with infer_from_zeros, the unpruned layer gets w != 0 (all ones here), pruned ones keep their buffer
    both = MaskSet.from_model(net, infer_from_zeros=True)
    assert list(both) == ["conv1.weight", "block.0.weight", "fc.weight"]
    assert bool(both["block.0.weight"].all()) and torch.equal(both["fc.weight"], masks["fc.weight"])
    assert both.metadata["generator"] == "torch.nn.utils.prune+nonzero"


def test_from_model_ignores_non_weight_prune_masks_with_a_warning(net):
    prune.l1_unstructured(net.fc, "weight", amount=0.5)
    prune.l1_unstructured(net.fc, "bias", amount=0.4)
    prune.l1_unstructured(net.bn1, "weight", amount=0.5)
    with pytest.warns(UserWarning, match=r"ignored the prune masks bn1.weight_mask, fc.bias_mask"):
        masks = MaskSet.from_model(net)
    assert list(masks) == ["fc.weight"]


# ---- apply --------------------------------------------------------------------------------------

def test_apply_zeroes_pruned_weights_in_place(net):
    masks = MaskSet(counted_masks())
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    with torch.no_grad():
        net.fc.weight[0, 0] = float("nan")  # a pruned NaN weight still becomes exactly 0
    assert masks.apply(net) is net
    weights = {"conv1.weight": net.conv1.weight, "block.0.weight": net.block[0].weight, "fc.weight": net.fc.weight}
    for name, weight in weights.items():
        mask = masks[name]
        assert torch.equal(weight[~mask], torch.zeros(int((~mask).sum())))
        assert torch.equal(weight[mask], before[name][mask])
        assert weight.requires_grad and weight.grad_fn is None and isinstance(weight, nn.Parameter)
    for name in ("bn1.weight", "bn1.bias", "block.0.bias", "fc.bias"):  # never masked
        assert torch.equal(dict(net.named_parameters())[name], before[name])


def test_apply_with_reparametrisation_matches_zeroing(net):
    masks = MaskSet(counted_masks())
    zeroed = masks.apply(copy.deepcopy(net))
    reparam = masks.apply(net, reparametrize=True)
    assert prune.is_pruned(reparam)
    assert set(n for n, _ in reparam.named_buffers() if n.endswith("_mask")) == {
        "conv1.weight_mask", "block.0.weight_mask", "fc.weight_mask"}
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(5))
    assert torch.equal(reparam(x), zeroed(x))
    assert MaskSet.from_model(reparam) == masks  # the buffers read back as the same masks


def test_apply_rejects_masks_that_do_not_fit(net):
    before = net.fc.weight.detach().clone()
    with pytest.raises(MaskError, match="shape"):
        MaskSet({"fc.weight": torch.ones(6, 5)}).apply(net)
    assert torch.equal(net.fc.weight, before)


# ---- check_fits ---------------------------------------------------------------------------------

def test_check_fits_accepts_a_subset_of_the_maskable_weights(net):
    MaskSet({"fc.weight": torch.ones(5, 6)}).check_fits(net)


def test_check_fits_unknown_name_suggests_close_matches(net):
    masks = MaskSet({"block.0.weights": torch.ones(6, 4, 3, 3), "nope.weight": torch.ones(1)})
    with pytest.raises(MaskError) as info:
        masks.check_fits(net, source="m.safetensors")
    assert str(info.value) == ("m.safetensors: parameter 'block.0.weights': is not a maskable parameter of the "
                               "model (3 maskable weights); did you mean 'block.0.weight'? "
                               "(and 1 more unknown names)")


def test_check_fits_non_maskable_parameter(net):
    with pytest.raises(MaskError) as info:
        MaskSet({"bn1.weight": torch.ones(4)}).check_fits(net)
    assert str(info.value) == ("parameter 'bn1.weight': is a parameter of BatchNorm2d, not a maskable weight "
                               "(only Conv2d or Linear weights are masked)")


def test_check_fits_shape_mismatch_names_both_shapes(net):
    with pytest.raises(MaskError) as info:
        MaskSet({"conv1.weight": torch.ones(4, 3, 5, 5)}).check_fits(net, source="x.pt")
    assert str(info.value) == ("x.pt: parameter 'conv1.weight': mask shape (4, 3, 5, 5) does not match the "
                               "model's parameter shape (4, 3, 3, 3)")


def test_check_fits_works_on_a_reparametrised_model(net):
    prune.l1_unstructured(net.conv1, "weight", amount=0.5)
    MaskSet(counted_masks()).check_fits(net)


def test_check_fits_warns_on_a_foreign_model_fingerprint(net, make_net):
    masks = MaskSet({"fc.weight": torch.ones(5, 6)}, {"model_fingerprint": model_fingerprint(make_net(7))})
    with pytest.warns(UserWarning, match=r"made for another model .*every name and shape fits"):
        masks.check_fits(net)
    own = MaskSet({"fc.weight": torch.ones(5, 6)}, {"model_fingerprint": model_fingerprint(net)})
    subset = MaskSet({"fc.weight": torch.ones(5, 6)}, {"model_fingerprint": model_fingerprint({"fc.weight": (5, 6)})})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        own.check_fits(net)
        subset.check_fits(net)


def test_shapes_fixture_matches_the_test_net(net, shapes):
    assert {n: tuple(p.shape) for n, p in net.named_parameters() if n in shapes} == shapes


def test_in_model_order(net):
    masks = MaskSet({"fc.weight": torch.ones(5, 6), "conv1.weight": torch.ones(4, 3, 3, 3)}, {"seed": 1})
    ordered = masks.in_model_order(net)
    assert list(ordered) == ["conv1.weight", "fc.weight"] and ordered.metadata == {"seed": 1}
    assert all(torch.equal(ordered[n], masks[n]) for n in masks)
    with pytest.raises(MaskError, match="shape"):
        MaskSet({"fc.weight": torch.ones(6, 5)}).in_model_order(net)
