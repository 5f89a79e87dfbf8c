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


def test_set_masks_zeroes_what_leaves_keeps_what_stays_and_captures_dense_gradients():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5))
    old = torch.rand(5, 6) < 0.5
    enforcer = MaskEnforcer(model, {"0.weight": old})
    enforcer.apply()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    enforcer.capture_dense_grads = True
    x = torch.randn(4, 6)
    model(x).sum().backward()
    dense = enforcer.take_dense_grads()["0.weight"]
    expected = torch.autograd.functional.jacobian(lambda w: (x @ w.T).sum(), model[0].weight.detach())
    assert torch.allclose(dense, expected)  # unmasked, while .grad is masked
    assert torch.count_nonzero(model[0].weight.grad[~old]) == 0 and enforcer.take_dense_grads() is None
    opt.step()
    enforcer.after_step(opt)
    weight = model[0].weight
    before_w, before_m = weight.detach().clone(), opt.state[weight]["momentum_buffer"].clone()
    new = old.clone()
    new.view(-1)[old.view(-1).nonzero()[0]] = False  # one weight leaves
    new.view(-1)[(~old).view(-1).nonzero()[0]] = True  # one position joins
    enforcer.set_masks({"0.weight": new}, opt)
    stay = old & new
    momentum = opt.state[weight]["momentum_buffer"]
    assert torch.equal(weight[stay], before_w[stay]) and torch.equal(momentum[stay], before_m[stay])
    assert torch.count_nonzero(weight[~new]) == 0 and torch.count_nonzero(momentum[~new]) == 0
    assert weight[new & ~old].item() == 0.0  # a new connection starts at 0
    model.zero_grad()
    model(x).sum().backward()
    assert torch.count_nonzero(weight.grad[~new]) == 0 and torch.count_nonzero(weight.grad[new & ~old]) == 1
    enforcer.remove()
