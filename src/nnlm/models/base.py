"""The contract every model family keeps, and the settings several families share.

A family is a config dataclass (its settings, declared with `setting()`), a model class
and its presets (see `Family`). A model maps token ids to next-token logits:

    forward(idx, targets=None) -> (logits, loss)

A *window* model (the MLPs) reads a fixed window: idx (B, block_size) -> logits (B, V),
one prediction per row. A *sequence* model reads whole sequences: idx (B, T) -> logits
(B, T, V), a prediction at every position; targets of -1 are padding and not counted.

Sampling goes through `begin` / `advance` / `keep`, so a model carries whatever state it
needs between steps (a window of ids, a recurrent state, a key-value cache) and the
sampler never looks inside it. `embeddings` and `activations` expose what `plot`,
`neighbors` and `inspect` draw, so they do not depend on attribute names.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import NnlmError
from ..settings import check, setting


@dataclass(frozen=True)
class Family:
    name: str
    config: type  # a dataclass: vocab_size, then the family's settings
    model: type  # a Model subclass, built as model(config)
    help: str
    presets: dict[str, dict] = field(default_factory=dict)  # name -> model and train settings
    # the model settings of the default run from facts about the data (auto.DataFacts), and
    # why: (settings, reasons); None: the "default" preset's model
    auto: Callable | None = None

    @property
    def window(self) -> bool:
        return self.model.window

    def build(self, config) -> Model:
        config.validate()
        return self.model(config)


@dataclass
class ModelConfig:
    """What every family's config starts with: the vocabulary size, which the data sets;
    the family's own settings follow it, each declared with setting()."""

    vocab_size: int

    def validate(self) -> None:
        """Every setting within its bounds; a family adds the checks that span settings."""
        if self.vocab_size < 1:
            raise NnlmError(f"vocab_size must be at least 1, got {self.vocab_size}")
        check(self)


class Model(nn.Module):
    """Base class of every family's model."""

    window: ClassVar[bool] = True  # reads a fixed window (else whole sequences)
    config: Any

    def loss(self, logits: torch.Tensor, targets: torch.Tensor | None):
        if targets is None:
            return None
        return F.cross_entropy(logits.flatten(0, -2), targets.flatten(), ignore_index=-1)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def decay_groups(self, weight_decay: float) -> list[dict]:
        """Weight decay on weight matrices and embeddings, none on biases and norm gains."""
        decay = [p for p in self.parameters() if p.dim() >= 2]
        no_decay = [p for p in self.parameters() if p.dim() < 2]
        return [{"params": decay, "weight_decay": weight_decay},
                {"params": no_decay, "weight_decay": 0.0}]

    # -- hooks for inspection --------------------------------------------------------
    def embeddings(self) -> torch.Tensor:
        """The token embedding table C: (vocab_size, n_embd)."""
        raise NotImplementedError

    def activations(self, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        """{layer name: (N, units)} hidden activations for a batch of inputs, for the
        saturation histogram; the name says which nonlinearity (e.g. 'hidden 1 (tanh)')."""
        return {}

    # -- sampling --------------------------------------------------------------------
    def begin(self, context: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """context (B, T): ids so far, boundary first. -> logits (B, V) of the next token,
        and the state `advance` continues from."""
        raise NotImplementedError

    def advance(self, state, token: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """Append token (B,) to each row: logits (B, V) of the next token, new state."""
        raise NotImplementedError

    def keep(self, state, rows: torch.Tensor):
        """The state of the rows `rows` (a bool mask or indices) only."""
        raise NotImplementedError

    @torch.no_grad()
    def init_linear(self, layer: nn.Linear, gain: float) -> None:
        layer.weight.normal_(0.0, gain / math.sqrt(layer.in_features))
        if layer.bias is not None:
            layer.bias.normal_(0.0, 0.01)

    @torch.no_grad()
    def init_output(self, layer: nn.Linear) -> None:
        # a near-uniform first prediction: the initial loss is ln|V|, not confidently wrong
        layer.weight.normal_(0.0, 0.01)
        layer.bias.zero_()


class WindowModel(Model):
    """A model of a fixed window of block_size tokens; sampling state is the window."""

    window = True

    def begin(self, context: torch.Tensor):
        block = self.config.block_size
        pad = context.new_zeros(context.shape[0], max(0, block - context.shape[1]))
        window = torch.cat([pad, context], 1)[:, -block:]  # (B, block_size)
        return self(window)[0], window

    def advance(self, state, token):
        window = torch.cat([state[:, 1:], token.unsqueeze(1)], 1)
        return self(window)[0], window

    def keep(self, state, rows):
        return state[rows]


# The `best` presets of the families were chosen by sweeps on names dev
# (benchmarks/family_sweeps.py, benchmarks/results/sweep_<family>.md), every trial trained the
# way the default run trains on names.txt; a preset trains so, with a budget of 5 minutes.
NAMES_TRAINING = dict(optimizer="adamw", batch_size=512, lr_schedule="plateau", patience=6, steps=0,
                      max_seconds=300.0, eval_interval=178, log_interval=50, min_lr=0.02)


# -- settings several families share: declared here once, each family picks its default --

def block_size(default: int):
    return setting(default, "context length, tokens (the paper's n - 1)", at_least=1)


def n_embd(default: int):
    return setting(default, "embedding size (the paper's m)", at_least=1)


def n_hidden(default: int):
    return setting(default, "hidden units per layer (the paper's h)", at_least=1)


def n_layer(default: int):
    return setting(default, "hidden layers", at_least=1)


def dropout(default: float):
    return setting(default, "dropout on the embeddings and every hidden layer, in training only",
                   at_least=0, below=1)


NORMS = ("none", "layer", "batch")


def norm(default: str):
    return setting(default, "normalise each hidden layer's pre-activation", choices=NORMS)


def sampled(default: int):
    return setting(default, "train with a sampled softmax over the batch's targets plus K Zipf draws "
                   "(big word vocabularies); evaluation stays exact", at_least=0,
                   flag="--sampled-softmax", metavar="K")


def sampled_softmax_loss(logits_of, targets: torch.Tensor, k: int, vocab_size: int) -> torch.Tensor:
    """Cross-entropy of targets (N,) over the batch's targets plus k draws from a log-uniform
    (Zipf) distribution over the ids, which word vocabularies order by frequency.

    logits_of(candidates (C,)) -> (N, C) logits of those ids: output cost N x C instead of
    N x V. Each candidate's logit is corrected by the log of its chance of being drawn (Jean
    et al. 2015), so the estimate follows the full softmax's gradient; the targets, being word
    tokens, are themselves roughly Zipf-distributed, and count as draws."""
    draws = zipf_ids(k, vocab_size, targets.device)
    cand, where = torch.unique(torch.cat([targets, draws]), return_inverse=True)  # (C,)
    q = zipf_prob(cand, vocab_size)  # (C,) chance of a single draw
    chance = -torch.expm1((k + targets.numel()) * torch.log1p(-q))  # 1 - (1 - q)^(k + N)
    return F.cross_entropy(logits_of(cand) - torch.log(chance), where[:targets.numel()])


def zipf_prob(ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Log-uniform probability of id r: log((r + 2) / (r + 1)) / log(V + 1)."""
    r = ids.double()
    return (torch.log1p(1.0 / (r + 1)) / math.log(vocab_size + 1)).float()


def zipf_ids(k: int, vocab_size: int, device) -> torch.Tensor:
    """k ids drawn log-uniformly: floor(exp(u log(V + 1))) - 1 for u ~ U[0, 1)."""
    u = torch.rand(k, device=device, dtype=torch.float64)
    return (torch.exp(u * math.log(vocab_size + 1)).floor().long() - 1).clamp_(0, vocab_size - 1)


def sequence_sampled_loss(model, h: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor,
                          bias: torch.Tensor | None) -> torch.Tensor:
    """The sampled-softmax loss of a sequence model's last hidden states h (B, T, d) against
    targets (B, T), -1 padding left out; weight (V, d) and bias (V,) the output layer's."""
    keep = targets.flatten() >= 0
    h, targets = h.flatten(0, 1)[keep], targets.flatten()[keep]  # (N, d), (N,)

    def logits_of(cand):
        return h @ weight[cand].T + (bias[cand] if bias is not None else 0.0)

    return sampled_softmax_loss(logits_of, targets, model.config.sampled, model.config.vocab_size)


def make_norm(kind: str, size: int) -> nn.Module:
    return {"layer": nn.LayerNorm, "batch": nn.BatchNorm1d}.get(kind, nn.Identity)(size)
