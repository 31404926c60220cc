"""The flat-buffer optimizers against torch.optim."""

import pytest
import torch

from helpers import random_mlp
from nnlm.settings.training import TrainConfig
from nnlm.training.optim import make_optimizer


@pytest.mark.parametrize("kind, momentum", [("adamw", 0.0), ("sgd", 0.0), ("sgd", 0.9)])
def test_flat_optimizer_equals_torch_optim(kind, momentum):
    ours, theirs = random_mlp(True), random_mlp(True)
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
