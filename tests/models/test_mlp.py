"""LeNet-300-100."""

from sparsegraph.models import create_model


def test_widths_follow_input_shape():
    model = create_model("mlp")
    assert [(m.in_features, m.out_features) for m in (model.fc1, model.fc2, model.fc3)] == [
        (784, 300), (300, 100), (100, 10)]
    assert sum(p.numel() for p in model.parameters()) == 784 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10
    assert create_model("mlp", input_shape=(1, 8, 8)).fc1.in_features == 64
    assert create_model("mlp", input_shape=(3, 32, 32)).fc1.in_features == 3072
