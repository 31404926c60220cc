"""Forward and backward of the paper's MLP and its cross-entropy, written out by hand
(MLP.loss_and_grad uses it where the config allows).

Autograd records and replays a graph of ~30 small operations per step; for a model
this small that bookkeeping costs as much as the arithmetic. These ~20 kernels
compute the same loss and write the same gradients (tested against autograd).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from .mlp import MLP


def supports(cfg) -> bool:
    """An MLP config (mlp.MLPConfig) of the paper's model exactly: one tanh layer, no norm,
    no dropout, full softmax, untied."""
    return cfg.n_layer == 1 and cfg.norm == "none" and not cfg.dropout and not cfg.sampled and not cfg.tie


@torch.no_grad()
def loss_and_grad(model: MLP, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of `model` on (idx, targets); overwrites every p.grad.

    idx (B, block_size) token ids, targets (B,). Returns the loss as a 0-d tensor.
    """
    C, hidden, out, direct = model.C.weight, model.hidden, model.out, model.direct
    B = idx.shape[0]
    x = C[idx].view(B, -1)  # (B, block_size * n_embd)
    h = torch.addmm(hidden.bias, x, hidden.weight.t()).tanh_()  # (B, n_hidden)
    logits = torch.addmm(out.bias, h, out.weight.t())  # (B, V)
    if direct is not None:
        logits.addmm_(x, direct.weight.t())
    logp = torch.log_softmax(logits, dim=1)  # (B, V)
    loss = logp.gather(1, targets.unsqueeze(1)).mean().neg()
    # d loss / d logits = (softmax - onehot(target)) / B
    dlogits = logp.exp_()
    dlogits.scatter_add_(1, targets.unsqueeze(1), dlogits.new_full((B, 1), -1.0))
    dlogits.mul_(1.0 / B)
    torch.mm(dlogits.t(), h, out=out.weight.grad)  # (V, n_hidden)
    torch.sum(dlogits, 0, out=out.bias.grad)
    dpre = torch.mm(dlogits, out.weight)  # (B, n_hidden), d loss / d tanh output
    dpre.mul_(h.mul_(h).neg_().add_(1.0))  # through tanh: * (1 - h^2)
    torch.mm(dpre.t(), x, out=hidden.weight.grad)  # (n_hidden, n_in)
    torch.sum(dpre, 0, out=hidden.bias.grad)
    dx = torch.mm(dpre, hidden.weight)  # (B, n_in)
    if direct is not None:
        torch.mm(dlogits.t(), x, out=direct.weight.grad)
        dx.addmm_(dlogits, direct.weight)
    C.grad.zero_()
    C.grad.index_add_(0, idx.reshape(-1), dx.view(-1, C.shape[1]))
    return loss
