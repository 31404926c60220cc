"""The MLP's hand-written forward and backward against PyTorch's autograd."""

import pytest
import torch

from helpers import random_mlp
from nnlm.models import fused
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
    got = fused.loss_and_grad(model, X, Y)
    assert torch.allclose(got, loss.detach(), atol=1e-6)
    for name, p in model.named_parameters():
        assert torch.allclose(p.grad, expected[name], atol=1e-6), name
