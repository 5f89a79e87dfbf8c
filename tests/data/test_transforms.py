import pytest
import torch
import torch.nn.functional as F

from sparsegraph.data import crop_flip, normalize, random_crop_flip
from sparsegraph.utils import make_generator


def _images(n=3, c=2, h=5, w=6):
    return torch.arange(n * c * h * w, dtype=torch.int64).reshape(n, c, h, w).to(torch.uint8) + 1


def test_normalize_closed_form():
    images = torch.tensor([[[[0, 255]], [[51, 102]]]], dtype=torch.uint8)
    out = normalize(images, 255, (0.5, 0.2), (0.25, 0.1))
    assert out.dtype == torch.float32
    assert torch.allclose(out, torch.tensor([[[[-2.0, 2.0]], [[0.0, 2.0]]]]), atol=1e-6)


def test_crop_flip_matches_pad_and_slice():
    images, p = _images(), 2
    padded = F.pad(images, (p, p, p, p))
    for top in range(2 * p + 1):
        for left in range(2 * p + 1):
            for flip in (False, True):
                n = images.shape[0]
                out = crop_flip(images, torch.full((n,), top), torch.full((n,), left), torch.full((n,), flip), p)
                expected = padded[:, :, top : top + 5, left : left + 6]
                assert torch.equal(out, expected.flip(-1) if flip else expected)


def test_centre_crop_is_identity_and_offsets_are_per_image():
    images = _images()
    out = crop_flip(images, torch.tensor([2, 0, 2]), torch.tensor([2, 0, 4]), torch.tensor([False, False, True]), 2)
    assert torch.equal(out[0], images[0])
    assert torch.equal(out[1, :, :2], torch.zeros(2, 2, 6, dtype=torch.uint8))  # zero padding on top
    assert torch.equal(out[1, :, 2:, 2:], images[1, :, :3, :4])
    assert torch.equal(out[2, :, :, 2:], images[2, :, :, 2:].flip(-1))  # shifted left by 2, then mirrored


def test_random_crop_flip_uses_only_its_generator():
    images = _images(n=64)
    first = random_crop_flip(images, 2, make_generator(7))
    torch.manual_seed(0)
    assert torch.equal(first, random_crop_flip(images, 2, make_generator(7)))
    generator = make_generator(7)
    top = torch.randint(0, 5, (64,), generator=generator)
    left = torch.randint(0, 5, (64,), generator=generator)
    flip = torch.randint(0, 2, (64,), generator=generator).bool()
    assert torch.equal(first, crop_flip(images, top, left, flip, 2))
    assert 0 < int(flip.sum()) < 64 and len(set(top.tolist())) == 5


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_transforms_on_cuda_match_cpu():
    images = _images(n=32)
    generator = make_generator(5, device="cuda")
    out = random_crop_flip(images.cuda(), 2, generator)
    generator = make_generator(5, device="cuda")
    top, left = (torch.randint(0, 5, (32,), generator=generator, device="cuda") for _ in range(2))
    flip = torch.randint(0, 2, (32,), generator=generator, device="cuda").bool()
    assert out.is_cuda and torch.equal(out.cpu(), crop_flip(images, top.cpu(), left.cpu(), flip.cpu(), 2))
    assert torch.allclose(normalize(out, 255, (0.5, 0.5), (0.2, 0.2)).cpu(),
                          normalize(out.cpu(), 255, (0.5, 0.5), (0.2, 0.2)))
