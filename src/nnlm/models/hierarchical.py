"""The lecture's part 5 (WaveNet-style) MLP: neighbouring positions are merged in pairs,
level by level, (B, T, m) -> (B, T/2, h) -> ... -> (B, 1, h), instead of all at once."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import NnlmError
from .base import (
    NAMES_TRAINING,
    Family,
    ModelConfig,
    WindowModel,
    block_size,
    dropout,
    make_norm,
    n_embd,
    n_hidden,
    norm,
)


@dataclass
class HierarchicalConfig(ModelConfig):
    block_size: int = block_size(8)
    n_embd: int = n_embd(24)
    n_hidden: int = n_hidden(128)
    norm: str = norm("batch")
    dropout: float = dropout(0.0)

    def validate(self) -> None:
        super().validate()
        if self.block_size & (self.block_size - 1):
            raise NnlmError(f"the hierarchical family needs a power-of-two block_size, got {self.block_size}",
                            cli="--model hierarchical needs a power-of-two --block-size, got "
                            f"{self.block_size}")


class HierarchicalMLP(WindowModel):
    def __init__(self, config: HierarchicalConfig):
        super().__init__()
        config.validate()
        self.config = config
        levels = int(math.log2(config.block_size))
        self.C = nn.Embedding(config.vocab_size, config.n_embd)
        widths = [config.n_embd] + [config.n_hidden] * levels
        self.merges = nn.ModuleList(nn.Linear(2 * w, config.n_hidden) for w in widths[:levels])
        self.norms = nn.ModuleList(make_norm(config.norm, config.n_hidden) for _ in range(levels))
        self.drop = nn.Dropout(config.dropout) if config.dropout else nn.Identity()
        self.out = nn.Linear(widths[-1], config.vocab_size)
        self.C.weight.data.normal_()
        for i, layer in enumerate(self.merges):
            self.init_linear(layer, 1.0 if i == 0 else 5 / 3)
        self.init_output(self.out)

    def embeddings(self) -> torch.Tensor:
        return self.C.weight

    def merged(self, idx: torch.Tensor, collect: list | None = None) -> torch.Tensor:
        """idx (B, T) -> (B, 1, n_hidden) after log2(T) pairwise merges; each level's tanh
        output, flattened to (B * T/2^k, n_hidden), is appended to `collect` if given."""
        h = self.drop(self.C(idx))  # (B, T, n_embd)
        for merge, norm_layer in zip(self.merges, self.norms, strict=True):
            B, T, width = h.shape
            pre = merge(h.reshape(B, T // 2, 2 * width))  # (B, T/2, n_hidden)
            pre = norm_layer(pre.flatten(0, 1)).view_as(pre)  # BatchNorm1d wants (N, features)
            h = torch.tanh(pre)
            if collect is not None:
                collect.append(h.flatten(0, 1))
            h = self.drop(h)
        return h

    def activations(self, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        levels = []
        self.merged(idx, levels)
        return {f"level {i} (tanh)": h for i, h in enumerate(levels, 1)}

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        logits = self.mask_labels(self.out(self.merged(idx).flatten(1)))  # (B, vocab_size); T is 1 here
        return logits, self.loss(logits, targets)


PRESETS = {
    # the lecture's part 5 model, trained as the MLP's default preset is
    "default": dict(block_size=8, n_embd=24, n_hidden=128, norm="batch", batch_size=1024, steps=1500,
                    lr=1e-2, optimizer="adamw", lr_schedule="cosine", min_lr=0.02, eval_interval=100,
                    log_interval=50),
    "best": dict(NAMES_TRAINING, block_size=8, n_embd=24, n_hidden=256, norm="batch", lr=1e-2),
}

FAMILY = Family("hierarchical", HierarchicalConfig, HierarchicalMLP,
                "the lecture's part 5 WaveNet-style MLP: pairs of positions merged level by level",
                PRESETS)
