"""VGG-16 with batch norm, in the two CIFAR variants of the pruning literature.

* ``variant="synflow"`` (default): the Synaptic-Flow / GraSP (open_lth) CIFAR VGG-16. 13 conv3x3
  (bias, BN, ReLU) on the plan 64,64,M,128,128,M,256,256,256,M,512,512,512,M,512,512,512 (no fifth
  max-pool) -> AvgPool 2 -> Linear(512, C). Module names ``layers.i.{conv,bn}`` and ``fc`` as there.
* ``variant="vgg-d"``: the VGG-D of SNIP / ITOP / Hoang et al. NeurIPS 2023: the same 13 convs with a
  fifth max-pool -> Linear(512, 512) -> ReLU -> BN1d -> Linear(512, 512) -> ReLU -> BN1d ->
  Linear(512, C). Module names ``features.i`` and ``classifier.i`` as there.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from sparsegraph.errors import UsageError
from sparsegraph.models.registry import register_model

VGG16_PLAN = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)
VGG_VARIANTS = ("synflow", "vgg-d")


class ConvBNReLU(nn.Module):
    """conv3x3(padding 1, bias) -> BN -> ReLU."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.bn(self.conv(x)))


class VGGSynflow(nn.Module):
    """The Synaptic-Flow CIFAR VGG: plan of :class:`ConvBNReLU` and max-pools -> AvgPool 2 -> Linear."""

    def __init__(self, in_channels: int, flat_features: int, num_classes: int, log_softmax: bool):
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for spec in VGG16_PLAN:
            if spec == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers.append(ConvBNReLU(channels, spec))
                channels = spec
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AvgPool2d(2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(flat_features, num_classes)
        self.log_softmax = log_softmax

    def forward(self, x: Tensor) -> Tensor:
        out = self.fc(self.flatten(self.pool(self.layers(x))))
        if self.log_softmax:
            out = F.log_softmax(out, dim=1)
        return out


class VGGD(nn.Module):
    """VGG-D (SNIP / ITOP / NeurIPS 2023): plan + fifth max-pool -> three linear layers with BN1d."""

    def __init__(self, in_channels: int, flat_features: int, num_classes: int, log_softmax: bool):
        super().__init__()
        features: list[nn.Module] = []
        channels = in_channels
        for spec in (*VGG16_PLAN, "M"):
            if spec == "M":
                features.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                features += [nn.Conv2d(channels, spec, kernel_size=3, padding=1), nn.BatchNorm2d(spec), nn.ReLU()]
                channels = spec
        self.features = nn.Sequential(*features)
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(
            nn.Linear(flat_features, 512), nn.ReLU(), nn.BatchNorm1d(512),
            nn.Linear(512, 512), nn.ReLU(), nn.BatchNorm1d(512),
            nn.Linear(512, num_classes),
        )
        self.log_softmax = log_softmax

    def forward(self, x: Tensor) -> Tensor:
        out = self.classifier(self.flatten(self.features(x)))
        if self.log_softmax:
            out = F.log_softmax(out, dim=1)
        return out


@register_model("vgg16", description="VGG-16 with BN: 13 conv3x3, AvgPool 2, Linear(512, C) (Synaptic-Flow); "
                "variant='vgg-d' for the NeurIPS 2023 VGG-D")
def vgg16(num_classes: int, input_shape: tuple[int, ...], variant: str = "synflow",
          log_softmax: bool = False) -> nn.Module:
    """VGG-16 (BN); ``variant`` in :data:`VGG_VARIANTS`; the flattened width follows ``input_shape``."""
    if variant not in VGG_VARIANTS:
        raise UsageError(f"model 'vgg16': variant must be one of {', '.join(VGG_VARIANTS)}, got {variant!r}")
    channels, height, width = input_shape
    # both variants reduce the input 32-fold (four max-pools + AvgPool 2, or five max-pools)
    if height < 32 or width < 32:
        raise UsageError(f"model 'vgg16': input_shape {input_shape} is too small (the 32-fold reduction needs "
                         "H, W >= 32)")
    flat_features = 512 * (height // 32) * (width // 32)
    cls = VGGSynflow if variant == "synflow" else VGGD
    return cls(channels, flat_features, num_classes, bool(log_softmax))
