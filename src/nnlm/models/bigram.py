"""The bigram as a neural model (the lecture's part 1, makemore's Bigram): a table of
next-token logits, one row per previous token, trained by gradient descent. It learns
what the count bigram counts; the baseline every other family should beat."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from .base import NAMES_TRAINING, Family, ModelConfig, WindowModel


@dataclass
class BigramConfig(ModelConfig):
    block_size: ClassVar[int] = 1  # the previous token only


class Bigram(WindowModel):
    def __init__(self, config: BigramConfig):
        super().__init__()
        self.config = config
        self.logits = nn.Parameter(torch.zeros(config.vocab_size, config.vocab_size))  # (V, V)

    def embeddings(self) -> torch.Tensor:
        """A token's row of next-token logits is what the model knows of it."""
        return self.logits

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        logits = self.mask_labels(self.logits[idx[:, -1]])  # (B, V)
        return logits, self.loss(logits, targets)


PRESETS = {"default": dict(batch_size=1024, steps=1000, lr=0.1, min_lr=0.02, eval_interval=100),
           # trained as the others are, with big batches and a small lr: the table settles on the
           # counts' estimate instead of jittering around it (benchmarks/results/time_to_dev.md)
           "best": dict(NAMES_TRAINING, batch_size=4096, lr=0.01)}

FAMILY = Family("bigram", BigramConfig, Bigram, "a table of next-token logits per previous token", PRESETS)
