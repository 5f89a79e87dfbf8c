"""ResNets with a CIFAR stem: ResNet-18/34 (widths 64..512) and He et al.'s ResNet-20/32 (16..64).

Both are built from the same post-activation BasicBlock; module names follow the reference code
(kuangliu / akamaster / mge-snn: ``conv1``, ``bn1``, ``layerN.i.{conv1,bn1,conv2,bn2}``,
``layerN.i.shortcut.{0,1}``; the classifier is ``linear`` for ResNet-20/32 and ``classifier`` for
ResNet-18/34 as in the NeurIPS 2023 code), so those state dicts load as they are.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from sparsegraph.errors import UsageError
from sparsegraph.models.registry import register_model


class ChannelPadShortcut(nn.Module):
    """Option-A shortcut: keep every ``stride``-th pixel and zero-pad the new channels on both sides."""

    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.stride = stride
        self.pad_front = (planes - in_planes) // 2
        self.pad_back = planes - in_planes - self.pad_front

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad_front, self.pad_back))


class BasicBlock(nn.Module):
    """conv3x3(stride) -> BN -> ReLU -> conv3x3 -> BN, plus the shortcut, then ReLU.

    The shortcut is the identity when shape is kept; otherwise conv1x1(stride) + BN (option B) or
    :class:`ChannelPadShortcut` (option A).
    """

    def __init__(self, in_planes: int, planes: int, stride: int, shortcut: str):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        if stride == 1 and in_planes == planes:
            self.shortcut: nn.Module = nn.Sequential()
        elif shortcut == "B":
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes),
            )
        else:
            self.shortcut = ChannelPadShortcut(in_planes, planes, stride)
        self.relu2 = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        # the shortcut runs after conv2 so that prunable layers are called in registration order
        return self.relu2(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """conv3x3(C_in -> w0, stride 1) -> BN -> ReLU (no max-pool) -> stages of BasicBlocks ->
    global average pool -> Linear(w_last, C) [-> log-softmax].

    Args:
        in_channels: input channels.
        num_classes: classifier outputs.
        blocks: BasicBlocks per stage.
        widths: channels per stage (the stem has ``widths[0]``).
        shortcut: ``"A"`` or ``"B"`` (see :class:`BasicBlock`).
        classifier_name: attribute name of the final linear layer.
        classifier_bias: whether the final linear layer has a bias.
        log_softmax: end with ``log_softmax(dim=1)`` (the NeurIPS 2023 code's head).
    """

    def __init__(self, in_channels: int, num_classes: int, blocks: tuple[int, ...], widths: tuple[int, ...],
                 shortcut: str, classifier_name: str, classifier_bias: bool, log_softmax: bool):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, widths[0], kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU()
        in_planes = widths[0]
        for index, (count, planes) in enumerate(zip(blocks, widths)):
            first_stride = 1 if index == 0 else 2
            stage = [BasicBlock(in_planes if i == 0 else planes, planes, first_stride if i == 0 else 1, shortcut)
                     for i in range(count)]
            self.add_module(f"layer{index + 1}", nn.Sequential(*stage))
            in_planes = planes
        self.num_stages = len(blocks)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.flatten = nn.Flatten()
        self.classifier_name = classifier_name
        self.add_module(classifier_name, nn.Linear(in_planes, num_classes, bias=classifier_bias))
        self.log_softmax = log_softmax

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        for index in range(self.num_stages):
            out = getattr(self, f"layer{index + 1}")(out)
        out = self.flatten(self.avgpool(out))
        out = getattr(self, self.classifier_name)(out)
        if self.log_softmax:
            out = F.log_softmax(out, dim=1)
        return out


def _check_shortcut(name: str, shortcut: str) -> str:
    if shortcut not in ("A", "B"):
        raise UsageError(f"model {name!r}: shortcut must be 'A' or 'B', got {shortcut!r}")
    return shortcut


def _resnet_wide(blocks: tuple[int, ...], num_classes: int, input_shape: tuple[int, ...],
                 classifier_bias: bool, log_softmax: bool) -> CifarResNet:
    return CifarResNet(input_shape[0], num_classes, blocks, (64, 128, 256, 512), "B", "classifier",
                       bool(classifier_bias), bool(log_softmax))


def _resnet_he(name: str, blocks: tuple[int, ...], num_classes: int, input_shape: tuple[int, ...],
               shortcut: str) -> CifarResNet:
    return CifarResNet(input_shape[0], num_classes, blocks, (16, 32, 64), _check_shortcut(name, shortcut),
                       "linear", True, False)


@register_model("resnet18", description="ResNet-18, CIFAR stem (3x3 conv, no max-pool), BasicBlocks [2,2,2,2], "
                "widths 64-512")
def resnet18(num_classes: int, input_shape: tuple[int, ...], classifier_bias: bool = True,
             log_softmax: bool = False) -> CifarResNet:
    """ResNet-18 with a CIFAR stem; ``classifier_bias=False, log_softmax=True`` is the NeurIPS 2023 variant."""
    return _resnet_wide((2, 2, 2, 2), num_classes, input_shape, classifier_bias, log_softmax)


@register_model("resnet34", description="ResNet-34, CIFAR stem (3x3 conv, no max-pool), BasicBlocks [3,4,6,3], "
                "widths 64-512")
def resnet34(num_classes: int, input_shape: tuple[int, ...], classifier_bias: bool = True,
             log_softmax: bool = False) -> CifarResNet:
    """ResNet-34 with a CIFAR stem; ``classifier_bias=False, log_softmax=True`` is the NeurIPS 2023 variant."""
    return _resnet_wide((3, 4, 6, 3), num_classes, input_shape, classifier_bias, log_softmax)


@register_model("resnet20", description="ResNet-20 (He et al. CIFAR), 3x3 BasicBlocks, widths 16/32/64; "
                "shortcut B (1x1 conv) or A (zero-pad)")
def resnet20(num_classes: int, input_shape: tuple[int, ...], shortcut: str = "B") -> CifarResNet:
    """ResNet-20; ``shortcut="B"`` (1x1 projection, mge-snn) or ``"A"`` (zero-padding, the paper)."""
    return _resnet_he("resnet20", (3, 3, 3), num_classes, input_shape, shortcut)


@register_model("resnet32", description="ResNet-32 (He et al. CIFAR), 5x3 BasicBlocks, widths 16/32/64; "
                "shortcut B (1x1 conv) or A (zero-pad)")
def resnet32(num_classes: int, input_shape: tuple[int, ...], shortcut: str = "B") -> CifarResNet:
    """ResNet-32; ``shortcut="B"`` (1x1 projection, mge-snn) or ``"A"`` (zero-padding, the paper)."""
    return _resnet_he("resnet32", (5, 5, 5), num_classes, input_shape, shortcut)
