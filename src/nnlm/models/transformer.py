"""A small causal transformer (GPT): pre-norm blocks of multi-head self-attention and a GELU
MLP, learned positions, optional weight tying, PyTorch's fused scaled-dot-product attention.

    token + position embeddings (B, T, n_embd) -> n_layer blocks -> LayerNorm -> logits (B, T, V)

Sampling keeps a key-value cache, so a step costs one position: the keys and values of the
tokens before are kept, not recomputed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import NnlmError
from ..settings import setting
from .base import (
    NAMES_TRAINING,
    Family,
    PositionalModel,
    ModelConfig,
    block_size,
    dropout,
    n_embd,
    n_layer,
    sampled,
)


@dataclass
class TransformerConfig(ModelConfig):
    block_size: int = block_size(32)
    n_embd: int = n_embd(64)
    n_layer: int = n_layer(4)
    n_head: int = setting(4, "attention heads (n_embd must divide by it)", at_least=1)
    dropout: float = dropout(0.0)
    tie: bool = setting(False, "the output layer uses the token embeddings (weight tying)")
    sampled: int = sampled(0)

    def validate(self) -> None:
        super().validate()
        if self.n_embd % self.n_head:
            raise NnlmError(f"n_embd={self.n_embd} must be a multiple of n_head={self.n_head}",
                            cli=f"--n-embd {self.n_embd} must be a multiple of --n-head {self.n_head}")


class Block(nn.Module):
    """x + attention(LN(x)), then x + MLP(LN(x)). With a cache, appends this step's keys
    and values to it and attends over all of them."""

    def __init__(self, c: TransformerConfig):
        super().__init__()
        self.n_head, self.dropout = c.n_head, c.dropout
        self.ln_1, self.ln_2 = nn.LayerNorm(c.n_embd), nn.LayerNorm(c.n_embd)
        self.qkv = nn.Linear(c.n_embd, 3 * c.n_embd)
        self.proj = nn.Linear(c.n_embd, c.n_embd)
        self.fc = nn.Linear(c.n_embd, 4 * c.n_embd)
        self.fc_out = nn.Linear(4 * c.n_embd, c.n_embd)
        self.drop = nn.Dropout(c.dropout)

    def heads(self, t: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, n_head, T, C / n_head)."""
        B, T, C = t.shape
        return t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)

    def attend(self, x: torch.Tensor, cache: list | None):
        """Causal self-attention of x (B, T, n_embd), its keys and values appended to `cache` where given."""
        q, k, v = (self.heads(t) for t in self.qkv(x).chunk(3, dim=-1))
        if cache is not None and cache[0] is not None:  # a step after the first: all keys so far
            k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
        if cache is not None:
            cache[0], cache[1] = k, v
        causal = q.shape[2] > 1  # one new query sees every cached key
        y = F.scaled_dot_product_attention(q, k, v, is_causal=causal,
                                           dropout_p=self.dropout if self.training else 0.0)
        B, _, T, _ = y.shape
        return self.proj(y.transpose(1, 2).reshape(B, T, -1))  # (B, T, n_embd)

    def mlp_hidden(self, x: torch.Tensor) -> torch.Tensor:
        """The MLP's hidden layer: gelu(fc(LN(x))), (B, T, 4 n_embd)."""
        return F.gelu(self.fc(self.ln_2(x)))

    def forward(self, x: torch.Tensor, cache: list | None = None) -> torch.Tensor:
        x = x + self.drop(self.attend(self.ln_1(x), cache))
        return x + self.drop(self.fc_out(self.mlp_hidden(x)))


class Transformer(PositionalModel):

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.config = c = config
        self.wte = nn.Embedding(c.vocab_size, c.n_embd)
        self.wpe = nn.Embedding(c.block_size, c.n_embd)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layer))
        self.ln_f = nn.LayerNorm(c.n_embd)
        self.drop = nn.Dropout(c.dropout)
        # tied, the output vectors are the token embeddings themselves, stored once
        self.head = None if c.tie else nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """GPT-2's: N(0, 0.02), residual projections scaled by 1/sqrt(2 n_layer), zero biases."""
        residual = ("proj.weight", "fc_out.weight")
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                p.normal_(0.0, 0.02 / math.sqrt(2 * self.config.n_layer) if name.endswith(residual) else 0.02)
            elif name.endswith("bias"):
                p.zero_()

    def embeddings(self) -> torch.Tensor:
        return self.wte.weight

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, caches=None, start: int = 0):
        """idx (B, T), T <= block_size -> logits (B, T, V); positions from `start` (sampling)."""
        T = idx.shape[1]
        self.check_length(start, T)
        pos = torch.arange(start, start + T, device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(pos))  # (B, T, n_embd)
        for i, block in enumerate(self.blocks):
            x = block(x, caches[i] if caches is not None else None)
        return self.output(self.ln_f(x), targets)  # (B, T, V)

    def output_weight(self) -> torch.Tensor:
        return self.wte.weight if self.head is None else self.head.weight

    def activations(self, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        out = {}
        for i, block in enumerate(self.blocks, 1):
            after_attention = x + block.attend(block.ln_1(x), None)
            out[f"block {i} MLP (gelu)"] = block.mlp_hidden(after_attention).flatten(0, 1)
            x = block(x)
        return out

    # -- sampling: a key-value cache per block -----------------------------------------------
    def start(self, context: torch.Tensor):
        caches = [[None, None] for _ in self.blocks]
        logits, _ = self(context, caches=caches)
        return logits[:, -1], caches

    def step(self, caches, token: torch.Tensor, position: int):
        logits, _ = self(token.unsqueeze(1), caches=caches, start=position)
        return logits[:, -1], caches

    def keep_state(self, caches, rows):
        """The key-value caches of the rows `rows` only."""
        return [[k[rows], v[rows]] for k, v in caches]


PRESETS = {"default": dict(block_size=32, n_embd=64, n_layer=4, n_head=4, lr=1e-3, min_lr=0.02,
                           weight_decay=0.01),
           # n_embd and lr from benchmarks/results/sweep_transformer.md; two layers and batches of 1,024
           # tokens reach a given dev loss soonest (benchmarks/results/time_to_dev.md)
           "best": dict(NAMES_TRAINING, block_size=16, n_embd=64, n_layer=2, n_head=4, dropout=0.0, lr=3e-3,
                        batch_size=1024, weight_decay=0.01)}

FAMILY = Family("transformer", TransformerConfig, Transformer,
                "a small causal transformer (GPT): self-attention over the whole sequence", PRESETS)
