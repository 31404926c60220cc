"""AdamW and SGD over one flat parameter buffer.

Every parameter of the model is a view into a single contiguous tensor, and every
gradient a view into another, so an optimizer step is a handful of whole-buffer
kernels rather than several per parameter. (It also avoids torch.optim, whose
first use imports the compiler stack: about 2 s at every start.)
"""

from __future__ import annotations

import torch
from torch import nn


def flatten_parameters(model: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """Move every parameter and its gradient into views of two flat buffers."""
    params = list(model.parameters())
    total = sum(p.numel() for p in params)
    device, dtype = params[0].device, params[0].dtype
    flat = torch.empty(total, device=device, dtype=dtype)
    grad = torch.zeros(total, device=device, dtype=dtype)
    offset = 0
    for p in params:
        n = p.numel()
        flat[offset:offset + n].copy_(p.data.flatten())
        p.data = flat[offset:offset + n].view_as(p)
        p.grad = grad[offset:offset + n].view_as(p)
        offset += n
    return flat, grad


def make_optimizer(model, cfg) -> FlatOptimizer:
    """Flatten the model's parameters and build the optimizer `cfg` (a TrainConfig) asks for."""
    flat, grad = flatten_parameters(model)
    # decay where the model's decay_groups say: weight matrices and C, not biases or gains
    decaying = {id(p) for p in model.decay_groups(cfg.weight_decay)[0]["params"]}
    decay_mask = torch.cat([torch.full((p.numel(),), float(id(p) in decaying))
                            for p in model.parameters()])
    return FlatOptimizer(flat, grad, decay_mask, cfg.optimizer, cfg.weight_decay,
                         beta1=cfg.beta1, beta2=cfg.beta2, momentum=cfg.momentum, clip=cfg.grad_clip)


class FlatOptimizer:
    """AdamW (decoupled decay) or SGD (L2 decay, optional momentum) on flat buffers.

    `decay_mask` is 1 where weight decay applies (weights and C), 0 on biases.
    """

    def __init__(self, flat: torch.Tensor, grad: torch.Tensor, decay_mask: torch.Tensor,
                 algorithm: str, weight_decay: float, beta1: float = 0.9, beta2: float = 0.99,
                 momentum: float = 0.0, eps: float = 1e-8, clip: float = 0.0):
        self.flat, self.grad, self.algorithm, self.clip = flat, grad, algorithm, clip
        self.decay = decay_mask.to(flat) * weight_decay  # (P,) per-element decay
        self.beta1, self.beta2, self.momentum, self.eps = beta1, beta2, momentum, eps
        self.t = 0
        self.m = torch.zeros_like(flat) if algorithm == "adamw" or momentum else None
        self.v = torch.zeros_like(flat) if algorithm == "adamw" else None

    def zero_grad(self) -> None:
        """Zero every gradient (one buffer)."""
        self.grad.zero_()

    @torch.no_grad()
    def step(self, lr: float) -> None:
        """One update of every parameter at learning rate `lr` (the gradient clipped first, where asked)."""
        self.t += 1
        if self.clip:  # scaled on the device, without asking the host whether it is needed
            self.grad.mul_(torch.clamp(self.clip / (self.grad.norm() + 1e-6), max=1.0))
        if self.algorithm == "sgd":
            update = self.grad.addcmul(self.decay, self.flat)  # L2: g + wd * w
            if self.momentum:
                update = self.m.mul_(self.momentum).add_(update)
            self.flat.add_(update, alpha=-lr)
            return
        self.flat.addcmul_(self.decay, self.flat, value=-lr)  # decoupled decay (AdamW)
        self.m.lerp_(self.grad, 1 - self.beta1)
        self.v.mul_(self.beta2).addcmul_(self.grad, self.grad, value=1 - self.beta2)
        step_size = lr / (1 - self.beta1 ** self.t)
        denom = (self.v / (1 - self.beta2 ** self.t)).sqrt_().add_(self.eps)
        self.flat.addcdiv_(self.m, denom, value=-step_size)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """The optimizer's state a checkpoint keeps, by name."""
        tensors = {}
        if self.m is not None:
            tensors["optim.m"] = self.m
        if self.v is not None:
            tensors["optim.v"] = self.v
        return tensors

    def load_state(self, tensors: dict[str, torch.Tensor], t: int) -> None:
        """The state a checkpoint kept (ValueError where a tensor is missing or misshapen)."""
        for name, buf in (("optim.m", self.m), ("optim.v", self.v)):
            if buf is not None:
                if name not in tensors or tensors[name].shape != buf.shape:
                    raise ValueError(f"{name} missing or of the wrong size")
                buf.copy_(tensors[name])
        self.t = t
