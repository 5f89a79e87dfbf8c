"""CONV-6: the six-convolution VGG-like network of the lottery-ticket papers and of mge-snn."""

from __future__ import annotations

from torch import Tensor, nn

from sparsegraph.errors import UsageError
from sparsegraph.models.registry import register_model


class Conv6(nn.Module):
    """[conv3x3 64, conv3x3 64, max-pool 2] -> [128, 128, max-pool] -> [256, 256, max-pool] -> flatten
    -> Linear(256*(H//8)*(W//8), 256) -> Linear(256, 256) -> Linear(256, C), ReLU after each conv and
    hidden linear layer.

    With ``batch_norm=True`` a BatchNorm2d follows each conv and a BatchNorm1d each hidden linear
    layer (before the ReLU), as in mge-snn's ``Conv6``, whose module names (``convs1``, ``linear``)
    and indices this then matches.
    """

    def __init__(self, in_channels: int, flat_features: int, num_classes: int, batch_norm: bool):
        super().__init__()
        convs: list[nn.Module] = []
        channels = in_channels
        for width in (64, 64, "M", 128, 128, "M", 256, 256, "M"):
            if width == "M":
                convs.append(nn.MaxPool2d(2))
                continue
            convs.append(nn.Conv2d(channels, width, kernel_size=3, padding=1))
            if batch_norm:
                convs.append(nn.BatchNorm2d(width))
            convs.append(nn.ReLU())
            channels = width
        self.convs1 = nn.Sequential(*convs)
        self.flatten = nn.Flatten()
        linears: list[nn.Module] = []
        features = flat_features
        for width in (256, 256):
            linears.append(nn.Linear(features, width))
            if batch_norm:
                linears.append(nn.BatchNorm1d(width))
            linears.append(nn.ReLU())
            features = width
        linears.append(nn.Linear(features, num_classes))
        self.linear = nn.Sequential(*linears)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(self.flatten(self.convs1(x)))


@register_model("conv6", description="CONV-6: conv3x3 64,64,M,128,128,M,256,256,M, Linear 256/256/C "
                "(lottery-ticket / mge-snn)", init="kaiming_normal")
def conv6(num_classes: int, input_shape: tuple[int, ...], batch_norm: bool = False) -> Conv6:
    """CONV-6; ``batch_norm=True`` gives mge-snn's variant with batch norms."""
    channels, height, width = input_shape
    if height < 8 or width < 8:
        raise UsageError(f"model 'conv6': input_shape {input_shape} is too small (three 2x2 max-pools need H, W >= 8)")
    return Conv6(channels, 256 * (height // 8) * (width // 8), num_classes, bool(batch_norm))
