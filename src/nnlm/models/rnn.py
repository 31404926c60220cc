"""Recurrent models over whole sequences: the vanilla (Elman) RNN, the GRU and the LSTM,
each PyTorch's fused multi-layer module (no Python loop over time steps).

    embeddings (B, T, n_embd) -> rnn/gru/lstm layers (B, T, n_hidden) -> logits (B, T, V)

Sampling carries the recurrent state: a step costs one position, whatever came before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..device import fast_bf16
from ..settings import setting
from .base import (
    NAMES_TRAINING,
    Family,
    Model,
    ModelConfig,
    dropout,
    n_embd,
    n_hidden,
    n_layer,
    sampled,
)

CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


@dataclass
class RNNConfig(ModelConfig):
    block_size: int = setting(64, "tokens per training sequence (longer items are read in pieces)",
                              at_least=2)
    n_embd: int = n_embd(64)
    n_hidden: int = n_hidden(256)
    n_layer: int = n_layer(1)
    dropout: float = dropout(0.0)
    tie: bool = setting(False, "the output layer uses the embeddings' vectors (through a linear "
                        "projection to n_embd when n_hidden differs)")
    sampled: int = sampled(0)


class Recurrent(Model):
    """One recurrent family's model; `cell` is rnn, gru or lstm."""

    window = False
    carries_state = True
    cell = "gru"

    def __init__(self, config: RNNConfig):
        super().__init__()
        self.config = c = config
        self.wte = nn.Embedding(c.vocab_size, c.n_embd)
        kwargs = {"nonlinearity": "tanh"} if self.cell == "rnn" else {}
        self.rnn = CELLS[self.cell](c.n_embd, c.n_hidden, c.n_layer, batch_first=True,
                                    dropout=c.dropout if c.n_layer > 1 else 0.0, **kwargs)
        self.drop = nn.Dropout(c.dropout)
        self.proj = nn.Linear(c.n_hidden, c.n_embd, bias=False) if c.tie and c.n_hidden != c.n_embd else None
        self.out = nn.Linear(c.n_embd if c.tie else c.n_hidden, c.vocab_size)
        if c.tie:
            del self.out.weight  # the embeddings, stored once
        with torch.no_grad():
            self.wte.weight.normal_(0.0, 1.0 if not c.tie else 0.1)
            if c.tie:
                self.out.bias.zero_()
            else:
                self.init_output(self.out)

    def embeddings(self) -> torch.Tensor:
        return self.wte.weight

    def features(self, h: torch.Tensor) -> torch.Tensor:
        """Hidden states (..., n_hidden) -> what the output layer reads (..., n_embd if tied)."""
        h = self.drop(h)
        return self.proj(h) if self.proj is not None else h

    def head(self, h: torch.Tensor) -> torch.Tensor:
        """Hidden states (..., n_hidden) -> logits (..., V)."""
        return self.output(self.features(h))[0]

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """idx (B, T) -> logits (B, T, V), each position's prediction of the next token; with
        config.sampled, training returns (None, the sampled softmax's loss) instead."""
        h, _ = self.rnn(self.drop(self.wte(idx)))  # (B, T, n_hidden)
        return self.output(self.features(h), targets)

    def read(self, idx: torch.Tensor, state=None):
        h, state = self.rnn(self.wte(idx), state)
        return self.head(h), state

    def activations(self, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        h, _ = self.rnn(self.wte(idx))
        return {f"top layer ({self.cell} hidden state)": h.flatten(0, 1)}

    # -- sampling: the recurrent state ---------------------------------------------------
    def begin(self, context: torch.Tensor):
        h, state = self.rnn(self.wte(context))
        return self.head(h[:, -1]), state

    def advance(self, state, token: torch.Tensor):
        h, state = self.rnn(self.wte(token.unsqueeze(1)), state)
        return self.head(h[:, -1]), state

    def keep(self, state, rows):
        if isinstance(state, tuple):  # LSTM: (h, c), each (n_layer, B, n_hidden)
            return tuple(s[:, rows] for s in state)
        return state[:, rows]


class VanillaRNN(Recurrent):
    cell = "rnn"


class GRU(Recurrent):
    cell = "gru"


class LSTM(Recurrent):
    cell = "lstm"


DEFAULT = dict(block_size=64, n_embd=64, n_hidden=256, n_layer=1, lr=3e-3, min_lr=0.02, weight_decay=0.01)
SWEPT = dict(NAMES_TRAINING, block_size=16, n_embd=64, n_layer=1, dropout=0.1, lr=3e-3, weight_decay=0.01)


def auto(data) -> tuple[dict, list[str]]:
    """The default run's sizes (see run/auto.py): running text by its kind and size; a list
    gets the default preset."""
    if data.items:
        return dict(DEFAULT), []
    settings = dict(precision="bf16" if fast_bf16() else "fp32", grad_clip=1.0, min_lr=0.05)
    if data.chars_per_token > 1.5:  # tokens of several characters: what won on Brown's words
        sampled = 4096 if data.vocab_size > 8192 else 0
        settings.update(block_size=64, n_embd=256, n_hidden=512, n_layer=1, tie=True, dropout=0.5,
                        batch_size=2048, lr=3e-3, weight_decay=0.01, sampled=sampled)
        softmax = f", sampled softmax {sampled}" if sampled else ""
        why = [f"tokens of {data.chars_per_token:.1f} characters: 512 units, 256-d embeddings tied to the "
               f"output, dropout 0.5, pieces of 64 tokens{softmax}"]
    else:
        hidden = 256 if data.tokens < 300_000 else 512
        drop = round(min(0.3, max(0.0, 0.1 + 0.05 * math.log2(1_000_000 / max(data.tokens, 1)))), 2)
        settings.update(block_size=128, n_embd=64, n_hidden=hidden, n_layer=1, dropout=drop, batch_size=8192,
                        lr=3e-3, weight_decay=0.01)
        why = [f"characters: {hidden} units, dropout {drop} (more for less text), pieces of 128 characters"]
    return settings, why + [f"{settings['precision']} arithmetic"]


RNN_FAMILY = Family("rnn", RNNConfig, VanillaRNN, "a tanh recurrent network over the whole sequence",
                    {"default": DEFAULT, "best": dict(SWEPT, n_hidden=256)})
GRU_FAMILY = Family("gru", RNNConfig, GRU, "gated recurrent units over the whole sequence",
                    {"default": DEFAULT, "best": dict(SWEPT, n_hidden=512)})
LSTM_FAMILY = Family("lstm", RNNConfig, LSTM, "long short-term memory over the whole sequence",
                     {"default": DEFAULT, "best": dict(SWEPT, n_hidden=512)}, auto)
