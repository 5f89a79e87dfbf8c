"""Wide ResNet-28-2."""

from torch import nn

from sparsegraph.models import create_model


def test_structure_and_count():
    model = create_model("wrn28_2")
    assert sum(p.numel() for p in model.parameters()) == 1_467_610
    assert [len(getattr(model, f"block{i}").layer) for i in (1, 2, 3)] == [4, 4, 4]
    firsts = [getattr(model, f"block{i}").layer[0] for i in (1, 2, 3)]
    assert [(b.conv1.in_channels, b.conv1.out_channels, b.conv1.stride) for b in firsts] == [
        (16, 32, (1, 1)), (32, 64, (2, 2)), (64, 128, (2, 2))]
    shortcuts = [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)]
    assert shortcuts == ["block1.layer.0.convShortcut", "block2.layer.0.convShortcut", "block3.layer.0.convShortcut"]
    assert model.block1.layer[1].convShortcut is None
    assert (model.fc.in_features, model.fc.out_features) == (128, 10)
    assert model.bn1.num_features == 128
