"""Bag of words (makemore's BoW): each position's token and position embeddings, averaged
with every position before it, then an MLP block, then the logits.

    x_t = C[w_t] + P[t];  a_t = mean(x_0 .. x_t);  y_t = x_t + a_t;  z_t = y_t + W2 tanh(W1 y_t)

Sampling keeps the running sum of the embeddings: one position a step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .base import NAMES_TRAINING, Family, ModelConfig, PositionalModel, block_size, n_embd, n_hidden


@dataclass
class BoWConfig(ModelConfig):
    block_size: int = block_size(32)
    n_embd: int = n_embd(64)
    n_hidden: int = n_hidden(64)


class BoW(PositionalModel):

    def __init__(self, config: BoWConfig):
        super().__init__()
        self.config = c = config
        self.wte = nn.Embedding(c.vocab_size, c.n_embd)
        self.wpe = nn.Embedding(c.block_size, c.n_embd)
        self.fc, self.fc_out = nn.Linear(c.n_embd, c.n_hidden), nn.Linear(c.n_hidden, c.n_embd)
        self.out = nn.Linear(c.n_embd, c.vocab_size)
        self.init_output(self.out)

    def embeddings(self) -> torch.Tensor:
        return self.wte.weight

    def mix(self, x: torch.Tensor, running: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
        """x (B, T, n_embd) and the running means (B, T, n_embd) -> logits (B, T, V)."""
        y = x + running / count
        return self.mask_labels(self.out(y + self.fc_out(torch.tanh(self.fc(y)))))

    def embed(self, idx: torch.Tensor, start: int = 0) -> torch.Tensor:
        """Token and position embeddings of idx (B, T) from position `start`: (B, T, n_embd)."""
        self.check_length(start, idx.shape[1])
        return self.wte(idx) + self.wpe(torch.arange(start, start + idx.shape[1], device=idx.device))

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        x = self.embed(idx)  # (B, T, n_embd)
        count = torch.arange(1, idx.shape[1] + 1, device=idx.device).view(1, -1, 1)
        logits = self.mix(x, x.cumsum(1), count)  # (B, T, V)
        return logits, self.loss(logits, targets)

    def activations(self, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.embed(idx)
        count = torch.arange(1, idx.shape[1] + 1, device=idx.device).view(1, -1, 1)
        return {"MLP (tanh)": torch.tanh(self.fc(x + x.cumsum(1) / count)).flatten(0, 1)}

    # -- sampling: the running sum of the embeddings ----------------------------------------
    def start(self, context: torch.Tensor):
        x = self.embed(context)
        total = x.sum(1, keepdim=True)
        logits = self.mix(x[:, -1:], total, torch.tensor(float(context.shape[1])))
        return logits[:, -1], total

    def step(self, total, token: torch.Tensor, position: int):
        x = self.embed(token.unsqueeze(1), start=position)
        total = total + x
        logits = self.mix(x, total, torch.tensor(float(position + 1)))
        return logits[:, -1], total

    def keep_state(self, total, rows):
        """The running sums of the rows `rows` only."""
        return total[rows]


PRESETS = {"default": dict(block_size=32, n_embd=64, n_hidden=64, lr=3e-3, min_lr=0.02, weight_decay=0.01),
           "best": dict(NAMES_TRAINING, block_size=16, n_embd=64, n_hidden=256, lr=3e-3, weight_decay=0.01)}

FAMILY = Family("bow", BoWConfig, BoW, "a bag of words: each position's embeddings averaged with those "
                "before it, then an MLP", PRESETS)
