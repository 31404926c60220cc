"""The MLP's hand-written forward and backward against PyTorch's autograd."""

import pytest
import torch

from helpers import random_mlp
from nnlm.settings.training import TrainConfig
from nnlm.training.optim import make_optimizer


@pytest.mark.parametrize("direct", [False, True])
def test_fused_loss_and_gradients_equal_autograd(direct):
    model = random_mlp(direct)
    X, Y = torch.randint(0, 13, (17, 4)), torch.randint(0, 13, (17,))
    _, loss = model(X, Y)
    loss.backward()
    expected = {name: p.grad.clone() for name, p in model.named_parameters()}
    make_optimizer(model, TrainConfig())  # gradients now live in the flat buffer
    got = model.hand_written_loss_and_grad(X, Y)
    assert torch.allclose(got, loss.detach(), atol=1e-6)
    for name, p in model.named_parameters():
        assert torch.allclose(p.grad, expected[name], atol=1e-6), name


def test_hand_written_gradients_need_no_optimizer():
    """Without the flat optimizer's buffers (p.grad None) the gradients land in p.grad too."""
    model = random_mlp(False)
    X, Y = torch.randint(0, 13, (9, 4)), torch.randint(0, 13, (9,))
    _, loss = model(X, Y)
    loss.backward()
    expected = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    assert torch.allclose(model.loss_and_grad(X, Y), loss.detach(), atol=1e-6)
    for name, p in model.named_parameters():
        assert torch.allclose(p.grad, expected[name], atol=1e-6), name
