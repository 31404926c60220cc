"""The contract every model family keeps, and the settings several families share.

A family is a config dataclass (its settings, declared with `setting()`), a model class
and its presets (see `Family`). A model maps token ids to next-token logits:

    forward(idx, targets=None) -> (logits, loss)

A *window* model (the MLPs, the bigram) reads a fixed window: idx (B, block_size) -> logits (B, V),
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

from ..data.windows import first_window, next_window
from ..errors import NnlmError
from ..settings import check, setting


@dataclass(frozen=True)
class Family:
    name: str
    config: type  # a dataclass: vocab_size, then the family's settings
    model: type  # a Model subclass, built as model(config)
    help: str
    presets: dict[str, dict] = field(default_factory=dict)  # name -> model and train settings
    # the model settings of the default run from facts about the data (data.base.DataFacts), and
    # why: (settings, reasons); None: the "default" preset's model
    auto: Callable | None = None

    @property
    def window(self) -> bool:
        """Whether the family's model reads a fixed window (else whole sequences)."""
        return self.model.window

    def build(self, config) -> Model:
        """The family's model for `config` (validated first)."""
        config.validate()
        return self.model(config)


@dataclass
class ModelConfig:
    """What every family's config starts with: the token ids, which the data sets (the
    vocabulary's, then a labelled list's labels: the last `labels` ids, which the model reads
    where an item starts and never predicts); the family's own settings follow, each declared
    with setting()."""

    vocab_size: int
    labels: int = field(default=0, kw_only=True)  # (keyword-only: families' fields keep their places)

    def validate(self) -> None:
        """Every setting within its bounds; a family adds the checks that span settings."""
        if self.vocab_size < 1 or not 0 <= self.labels < self.vocab_size:
            raise NnlmError(f"vocab_size must be at least 1 and labels fewer, got {self.vocab_size} and "
                            f"{self.labels}")
        check(self)


class Model(nn.Module):
    """Base class of every family's model."""

    window: ClassVar[bool] = True  # reads a fixed window (else whole sequences)
    carries_state: ClassVar[bool] = False  # reads a sequence in pieces, its state carried (read)
    config: Any

    def mask_labels(self, logits: torch.Tensor) -> torch.Tensor:
        """Logits (..., V) with the label tokens' at -inf: a label is read, never predicted, so
        the probabilities are over the vocabulary alone (as is, in a run without labels)."""
        if not self.config.labels:
            return logits
        first = self.config.vocab_size - self.config.labels
        ids = torch.arange(first, self.config.vocab_size, device=logits.device)
        return logits.index_fill(-1, ids, float("-inf"))

    def loss(self, logits: torch.Tensor, targets: torch.Tensor | None):
        """Mean cross-entropy of logits (..., V) against targets (...), -1 not counted; None
        without targets."""
        if targets is None:
            return None
        return F.cross_entropy(logits.flatten(0, -2), targets.flatten(), ignore_index=-1)

    def loss_and_grad(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The loss of a training batch; after the call every p.grad holds the batch's gradient,
        given that the caller zeroed p.grad first (or left it None), as training's optimizer
        does. Autograd (which adds to p.grad); a family may give the same gradients a faster
        way (the MLP's hand-written backward, which writes them)."""
        _, loss = self(idx, targets)
        loss.backward()
        return loss

    # -- the output layer --------------------------------------------------------------
    def output_weight(self) -> torch.Tensor:
        """The output layer's weight (V, d): the layer `out`'s, or the token embeddings when tied
        (config.tie; `out` then has no weight of its own, so the tensor is saved once)."""
        return self.embeddings() if getattr(self.config, "tie", False) else self.out.weight

    def output_bias(self) -> torch.Tensor | None:
        """The output layer's bias (V,), or None where it has none."""
        out = getattr(self, "out", None)
        return out.bias if out is not None else None

    def output(self, h: torch.Tensor, targets: torch.Tensor | None = None, direct=None):
        """The output layer over the last features h, (B, d) or (B, T, d): (logits, loss).

        direct: (x, W) adds x W^T to the logits (the paper's direct connections). With
        config.sampled, training (model.train() and targets given) gives (None, the loss of a
        sampled softmax) and never the full logits; evaluation is always the exact softmax."""
        weight, bias = self.output_weight(), self.output_bias()
        if getattr(self.config, "sampled", 0) and self.training and targets is not None:
            return None, self.sampled_output_loss(h, targets, weight, bias, direct)
        logits = F.linear(h, weight, bias)  # (..., V)
        if direct is not None:
            logits = logits + F.linear(*direct)
        logits = self.mask_labels(logits)
        return logits, self.loss(logits, targets)

    def sampled_output_loss(self, h, targets, weight, bias, direct) -> torch.Tensor:
        """sampled_softmax_loss over the output layer, positions with target -1 left out."""
        keep = targets.flatten() >= 0
        h, targets = h.reshape(-1, h.shape[-1])[keep], targets.flatten()[keep]  # (N, d), (N,)
        x = direct[0].reshape(-1, direct[0].shape[-1])[keep] if direct is not None else None

        def logits_of(cand):  # (N, C)
            logits = h @ weight[cand].T
            logits = logits + bias[cand] if bias is not None else logits
            return logits + x @ direct[1][cand].T if direct is not None else logits

        return sampled_softmax_loss(logits_of, targets, self.config.sampled, self.config.vocab_size)

    def num_parameters(self) -> int:
        """How many numbers the model learns."""
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

    def read(self, idx: torch.Tensor, state=None) -> tuple[torch.Tensor, Any]:
        """(carries_state models) idx (B, T), the sequences' next tokens after `state` (None:
        their start) -> logits (B, T, V) and the state after them."""
        raise NotImplementedError

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
        """Weights N(0, gain / sqrt(fan-in)), so pre-activations have about unit scale; small biases."""
        layer.weight.normal_(0.0, gain / math.sqrt(layer.in_features))
        if layer.bias is not None:
            layer.bias.normal_(0.0, 0.01)

    @torch.no_grad()
    def init_output(self, layer: nn.Linear) -> None:
        # a near-uniform first prediction: the initial loss is ln|V|, not confidently wrong
        """A near-uniform first prediction: the initial loss is ln|V|, not confidently wrong."""
        layer.weight.normal_(0.0, 0.01)
        layer.bias.zero_()


class WindowModel(Model):
    """A model of a fixed window of block_size tokens; sampling state is the window."""

    window = True

    def begin(self, context: torch.Tensor):
        window = first_window(context, self.config.block_size, self.config.labels > 0)  # (B, block_size)
        return self(window)[0], window

    def advance(self, state, token):
        window = next_window(state, token, self.config.labels > 0)
        return self(window)[0], window

    def keep(self, state, rows):
        return state[rows]


class PositionalModel(Model):
    """A sequence model with learned positions (bow, transformer): it reads at most block_size
    tokens. Sampling keeps the ids so far and the family's own state (`start`, `step`,
    `keep_state`); past the last position it reads the last block_size tokens anew."""

    window = False

    def check_length(self, start: int, length: int) -> None:
        """NnlmError where positions start..start+length do not fit the block size."""
        if start + length > self.config.block_size:
            raise NnlmError(f"a sequence of {start + length} tokens is longer than the block size "
                            f"{self.config.block_size}")

    def start(self, context: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """context (B, T <= block_size) -> logits (B, V) of the next token, and the state."""
        raise NotImplementedError

    def step(self, state, token: torch.Tensor, position: int) -> tuple[torch.Tensor, Any]:
        """Token (B,) at `position` -> logits (B, V) of the next token, and the new state."""
        raise NotImplementedError

    def keep_state(self, state, rows):
        """The family's sampling state of the rows `rows` only."""
        raise NotImplementedError

    def begin(self, context: torch.Tensor):
        context = context[:, -self.config.block_size:]
        logits, state = self.start(context)
        return logits, (state, context)

    def advance(self, state, token: torch.Tensor):
        state, history = state
        history = torch.cat([history, token.unsqueeze(1)], 1)
        if history.shape[1] > self.config.block_size:  # past the last position: read the window anew
            return self.begin(history)
        logits, state = self.step(state, token, history.shape[1] - 1)
        return logits, (state, history)

    def keep(self, state, rows):
        state, history = state
        return self.keep_state(state, rows), history[rows]


# The `best` presets of the families other than the MLP were chosen by sweeps on names dev
# (benchmarks/family_sweeps.py, benchmarks/results/sweep_<family>.md), every trial trained the
# way the default run trained on names.txt then: this schedule, stopped by dev or by a budget of
# 300 s of training. (The MLP's `best` is a fixed 8,000 steps: models/mlp.py.)
NAMES_TRAINING = dict(optimizer="adamw", batch_size=512, lr_schedule="plateau", patience=6, steps=0,
                      max_seconds=300.0, eval_interval=178, log_interval=50, min_lr=0.02)


# -- settings several families share: declared here once, each family picks its default --

def block_size(default: int):
    """The declaration of the context length, with a family's default."""
    return setting(default, "context length, tokens (the paper's n - 1)", at_least=1)


def n_embd(default: int):
    """The declaration of the embedding size, with a family's default."""
    return setting(default, "embedding size (the paper's m)", at_least=1)


def n_hidden(default: int):
    """The declaration of the hidden units per layer, with a family's default."""
    return setting(default, "hidden units per layer (the paper's h)", at_least=1)


def n_layer(default: int):
    """The declaration of the number of hidden layers, with a family's default."""
    return setting(default, "hidden layers", at_least=1)


def dropout(default: float):
    """The declaration of the dropout, with a family's default."""
    return setting(default, "dropout on the embeddings and every hidden layer, in training only",
                   at_least=0, below=1)


NORMS = ("none", "layer", "batch")


def norm(default: str):
    """The declaration of the normalisation of hidden layers, with a family's default."""
    return setting(default, "normalise each hidden layer's pre-activation", choices=NORMS)


def sampled(default: int):
    """The declaration of the sampled softmax's draws (--sampled-softmax K), with a family's default."""
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


def make_norm(norm: str, size: int) -> nn.Module:
    """The normalisation layer a `norm` setting names (none: the identity)."""
    return {"layer": nn.LayerNorm, "batch": nn.BatchNorm1d}.get(norm, nn.Identity)(size)
