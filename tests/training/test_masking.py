import torch
from torch import nn

from sparsegraph.training import MaskEnforcer


def test_masked_weights_stay_exactly_zero_with_momentum_nesterov_and_decay():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 5))
    masks = {"0.weight": torch.rand(4, 3, 3, 3) < 0.3, "3.weight": torch.rand(5, 64) < 0.3}
    enforcer = MaskEnforcer(model, masks)
    enforcer.apply()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    for _ in range(5):
        loss = model(torch.randn(8, 3, 6, 6)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        enforcer.after_step(opt)
    params = dict(model.named_parameters())
    for name, mask in masks.items():
        assert torch.count_nonzero(params[name][~mask]) == 0
        assert torch.count_nonzero(opt.state[params[name]]["momentum_buffer"][~mask]) == 0
        assert torch.count_nonzero(params[name][mask]) == mask.sum()  # kept weights still train
    enforcer.remove()
