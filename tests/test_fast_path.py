"""The hand-written training path against PyTorch's own autograd and optimizers."""

import pytest
import torch

from nnlm import fused
from nnlm.config import TrainConfig
from nnlm.models.mlp import MLP, MLPConfig
from nnlm.optim import make_optimizer


def random_model(direct):
    torch.manual_seed(0)
    model = MLP(MLPConfig(vocab_size=13, block_size=4, n_embd=5, n_hidden=9, direct=direct))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.5)
    return model


@pytest.mark.parametrize("direct", [False, True])
def test_fused_loss_and_gradients_equal_autograd(direct):
    model = random_model(direct)
    X, Y = torch.randint(0, 13, (17, 4)), torch.randint(0, 13, (17,))
    _, loss = model(X, Y)
    loss.backward()
    expected = {name: p.grad.clone() for name, p in model.named_parameters()}
    make_optimizer(model, TrainConfig())  # gradients now live in the flat buffer
    got = fused.loss_and_grad(model, X, Y)
    assert torch.allclose(got, loss.detach(), atol=1e-6)
    for name, p in model.named_parameters():
        assert torch.allclose(p.grad, expected[name], atol=1e-6), name


@pytest.mark.parametrize("kind, momentum", [("adamw", 0.0), ("sgd", 0.0), ("sgd", 0.9)])
def test_flat_optimizer_equals_torch_optim(kind, momentum):
    ours, theirs = random_model(True), random_model(True)
    initial = {k: v.clone() for k, v in ours.state_dict().items()}
    cfg = TrainConfig(optimizer=kind, weight_decay=0.1, momentum=momentum, beta2=0.99)
    opt = make_optimizer(ours, cfg)
    groups = theirs.decay_groups(0.1)
    ref = (torch.optim.AdamW(groups, lr=0.01, betas=(0.9, 0.99), eps=1e-8) if kind == "adamw"
           else torch.optim.SGD(groups, lr=0.01, momentum=momentum))
    for _ in range(5):
        X, Y = torch.randint(0, 13, (8, 4)), torch.randint(0, 13, (8,))
        opt.zero_grad()
        ours(X, Y)[1].backward()
        opt.step(0.01)
        ref.zero_grad()
        theirs(X, Y)[1].backward()
        ref.step()
    for (name, a), b in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6), name
        assert not torch.equal(a, initial[name])  # the step did move it
