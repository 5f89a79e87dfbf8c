"""Wide ResNet-28-2 (Zagoruyko & Komodakis) with pre-activation blocks, as in mge-snn.

Module names follow mge-snn's ``WideResNet`` (``conv1``, ``blockN.layer.i.{bn1,conv1,bn2,conv2,
convShortcut}``, ``bn1``, ``fc``), so its state dicts load as they are.
"""

from __future__ import annotations

from torch import Tensor, nn

from sparsegraph.models.registry import register_model


class PreActBlock(nn.Module):
    """BN -> ReLU -> conv3x3(stride) -> BN -> ReLU -> conv3x3, plus the shortcut.

    Where the width or stride changes, the shortcut is a 1x1 conv applied to the pre-activated
    input (BN -> ReLU), which conv1 also reads; otherwise it is the identity on the raw input.
    """

    def __init__(self, in_planes: int, out_planes: int, stride: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_planes)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(out_planes, out_planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.projects = in_planes != out_planes or stride != 1
        self.convShortcut = (nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)
                             if self.projects else None)

    def forward(self, x: Tensor) -> Tensor:
        activated = self.relu1(self.bn1(x))
        out = self.conv2(self.relu2(self.bn2(self.conv1(activated))))
        # the shortcut runs after conv2 so that prunable layers are called in registration order
        if self.projects:
            return self.convShortcut(activated) + out
        return x + out


class NetworkBlock(nn.Module):
    """A group of :class:`PreActBlock`; the first one carries the stride and the width change."""

    def __init__(self, count: int, in_planes: int, out_planes: int, stride: int):
        super().__init__()
        self.layer = nn.Sequential(*[
            PreActBlock(in_planes if i == 0 else out_planes, out_planes, stride if i == 0 else 1)
            for i in range(count)])

    def forward(self, x: Tensor) -> Tensor:
        return self.layer(x)


class WideResNet(nn.Module):
    """conv3x3(C_in -> 16) -> three groups of (depth-4)/6 pre-activation blocks, widths
    16k/32k/64k, strides 1/2/2 -> BN -> ReLU -> global average pool -> Linear(64k, C)."""

    def __init__(self, in_channels: int, num_classes: int, depth: int, widen_factor: int):
        super().__init__()
        count = (depth - 4) // 6
        widths = (16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor)
        self.conv1 = nn.Conv2d(in_channels, widths[0], kernel_size=3, stride=1, padding=1, bias=False)
        self.block1 = NetworkBlock(count, widths[0], widths[1], 1)
        self.block2 = NetworkBlock(count, widths[1], widths[2], 2)
        self.block3 = NetworkBlock(count, widths[2], widths[3], 2)
        self.bn1 = nn.BatchNorm2d(widths[3])
        self.relu = nn.ReLU()
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(widths[3], num_classes)

    def forward(self, x: Tensor) -> Tensor:
        out = self.block3(self.block2(self.block1(self.conv1(x))))
        out = self.flatten(self.avgpool(self.relu(self.bn1(out))))
        return self.fc(out)


@register_model("wrn28_2", description="Wide ResNet-28-2, pre-activation blocks 4 per group, widths 32/64/128 "
                "(mge-snn)")
def wrn28_2(num_classes: int, input_shape: tuple[int, ...]) -> WideResNet:
    """Wide ResNet, depth 28, widen factor 2."""
    return WideResNet(input_shape[0], num_classes, depth=28, widen_factor=2)
