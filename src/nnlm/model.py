"""Bengio et al. (2003) MLP language model: y = b + W x + U tanh(d + H x).

x is the concatenation of the block_size previous tokens' rows of the embedding
table C; W (direct connections) is optional. Options beyond the paper: several
hidden layers, LayerNorm/BatchNorm before each tanh, dropout, and the WaveNet-style
hierarchical variant of the lecture's part 5. Nothing here knows about files or CLI.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from .config import check_types
from .errors import NnlmError

INITS = ("scaled", "normal")
NORMS = ("none", "layer", "batch")
ARCHS = ("flat", "hierarchical")


@dataclass
class ModelConfig:
    vocab_size: int
    block_size: int = 3  # n - 1 previous tokens
    n_embd: int = 10  # m, the feature-vector size
    n_hidden: int = 200  # h
    direct: bool = False  # the paper's W: embeddings straight to the output
    init: str = "scaled"  # "scaled" (lecture part 3) or "normal" (part 2's plain N(0, 1))
    n_layer: int = 1  # hidden tanh layers (flat); hierarchical has log2(block_size)
    norm: str = "none"  # normalise each hidden layer's pre-activation: none, layer, batch
    dropout: float = 0.0  # on the embeddings and every hidden layer, in training only
    arch: str = "flat"  # "flat" (the paper) or "hierarchical" (pairs merged level by level)
    sampled: int = 0  # train with a sampled softmax over this many candidates (0: full softmax)
    tie: bool = False  # the output layer's word vectors are C's rows (Press & Wolf 2017)

    def validate(self) -> None:
        for name in ("vocab_size", "block_size", "n_embd", "n_hidden", "n_layer"):
            if getattr(self, name) < 1:
                raise NnlmError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        choices = (("init", INITS), ("norm", NORMS), ("arch", ARCHS))
        for name, allowed in choices:
            if getattr(self, name) not in allowed:
                raise NnlmError(f"--{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        if not 0 <= self.dropout < 1:
            raise NnlmError(f"--dropout must be in [0, 1), got {self.dropout}")
        if self.arch == "hierarchical" and self.block_size & (self.block_size - 1):
            raise NnlmError(f"--arch hierarchical needs a power-of-two --block-size, got {self.block_size}")
        if self.arch == "hierarchical" and (self.direct or self.init == "normal" or self.sampled):
            raise NnlmError("--arch hierarchical has no --direct, --init normal or --sampled-softmax")
        if self.sampled < 0:
            raise NnlmError(f"--sampled-softmax must be >= 0, got {self.sampled}")
        if self.tie and (self.arch != "flat" or self.init == "normal"):
            raise NnlmError("--tie is for --arch flat with --init scaled")

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(obj) - known
        if unknown:
            raise NnlmError(f"config.json: unknown model settings {sorted(unknown)}")
        try:
            cfg = cls(**obj)
        except TypeError as e:
            raise NnlmError(f"config.json: bad model settings ({e})") from None
        check_types(cfg, "config.json model")
        cfg.validate()
        return cfg


def build_model(config: ModelConfig) -> nn.Module:
    config.validate()
    return HierarchicalMLP(config) if config.arch == "hierarchical" else MLP(config)


def make_norm(kind: str, size: int) -> nn.Module:
    return {"layer": nn.LayerNorm, "batch": nn.BatchNorm1d}.get(kind, nn.Identity)(size)


class LanguageModelBase(nn.Module):
    """The contract every model keeps: forward(idx, targets=None) -> (logits, loss)."""

    config: ModelConfig

    def loss(self, logits: torch.Tensor, targets: torch.Tensor | None):
        return None if targets is None else F.cross_entropy(logits, targets)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def decay_groups(self, weight_decay: float) -> list[dict]:
        """Weight decay on weight matrices and C, none on biases and norm gains."""
        decay = [p for p in self.parameters() if p.dim() >= 2]
        no_decay = [p for p in self.parameters() if p.dim() < 2]
        return [{"params": decay, "weight_decay": weight_decay},
                {"params": no_decay, "weight_decay": 0.0}]

    @torch.no_grad()
    def init_linear(self, layer: nn.Linear, gain: float) -> None:
        layer.weight.normal_(0.0, gain / math.sqrt(layer.in_features))
        if layer.bias is not None:
            layer.bias.normal_(0.0, 0.01)

    @torch.no_grad()
    def init_output(self) -> None:
        # a near-uniform first prediction: the initial loss is ln|V|, not confidently wrong
        self.out.weight.normal_(0.0, 0.01)
        self.out.bias.zero_()


class MLP(LanguageModelBase):
    """The paper's model; n_layer > 1 stacks more tanh layers of n_hidden units."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        config.validate()
        self.config = config
        n_in = config.block_size * config.n_embd
        self.C = nn.Embedding(config.vocab_size, config.n_embd)  # the feature vectors
        self.hidden = nn.Linear(n_in, config.n_hidden)  # H and d
        self.deeper = nn.ModuleList(nn.Linear(config.n_hidden, config.n_hidden)
                                    for _ in range(config.n_layer - 1))
        self.norms = nn.ModuleList(make_norm(config.norm, config.n_hidden)
                                   for _ in range(config.n_layer)) if config.norm != "none" else None
        self.drop = nn.Dropout(config.dropout) if config.dropout else None
        # U and b; tied, U is C (the same word vectors in and out), reached through a
        # linear projection of the hidden units to n_embd when the sizes differ
        self.proj = (nn.Linear(config.n_hidden, config.n_embd, bias=False)
                     if config.tie and config.n_hidden != config.n_embd else None)
        n_out = config.n_embd if config.tie else config.n_hidden
        self.out = nn.Linear(n_out, config.vocab_size)
        if config.tie:
            del self.out.weight  # one tensor, saved once, as C.weight
        self.direct = nn.Linear(n_in, config.vocab_size, bias=False) if config.direct else None  # W
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        if self.config.init == "normal":
            # lecture part 2: every parameter plain N(0, 1)
            for p in self.parameters():
                p.normal_()
            if self.direct is not None:
                self.direct.weight.zero_()
            return
        # lecture part 3: pre-activations of unit scale so few tanh units start saturated
        # (gain 1 on the N(0, 1) embeddings; Kaiming's 5/3 there saturates ~13% of units),
        # 5/3 on deeper layers, whose tanh inputs are squashed
        self.C.weight.normal_()
        self.init_linear(self.hidden, 1.0)
        for layer in self.deeper:
            self.init_linear(layer, 5 / 3)
        if self.config.tie:
            self.out.bias.zero_()
            if self.proj is not None:
                # small, as init_output: with C's N(0, 1) rows the first logits have a std
                # of ~0.1 sqrt(n_embd) (B, vocab_size), so the loss starts near ln|V|
                self.proj.weight.normal_(0.0, 0.1 / math.sqrt(self.config.n_hidden))
        else:
            self.init_output()
        if self.direct is not None:
            self.direct.weight.zero_()

    def output_weight(self) -> torch.Tensor:
        """(vocab_size, n_out): U, or C itself when tied."""
        return self.C.weight if self.config.tie else self.out.weight

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """idx (B, block_size) token ids -> logits (B, vocab_size), mean cross-entropy or None.

        With config.sampled, training (model.train() and targets given) returns (None, an
        estimate of the loss from a sampled softmax); evaluation is always the exact softmax.
        """
        x = self.C(idx).flatten(1)  # (B, block_size * n_embd)
        if self.drop is not None:
            x = self.drop(x)
        h = x
        for i, layer in enumerate([self.hidden, *self.deeper]):
            pre = layer(h)  # (B, n_hidden)
            h = torch.tanh(self.norms[i](pre) if self.norms is not None else pre)
            if self.drop is not None:
                h = self.drop(h)
        if self.proj is not None:
            h = self.proj(h)  # (B, n_embd)
        if self.config.sampled and self.training and targets is not None:
            return None, self.sampled_loss(x, h, targets)  # training only: no full logits
        logits = F.linear(h, self.output_weight(), self.out.bias)  # (B, vocab_size)
        if self.direct is not None:
            logits = logits + self.direct(x)
        return logits, self.loss(logits, targets)

    def sampled_loss(self, x: torch.Tensor, h: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Cross-entropy over the batch's targets plus `sampled` draws from a log-uniform
        (Zipf) distribution over the ids, which word vocabularies order by frequency.

        Output cost is B x candidates instead of B x |V|. Each candidate's logit is
        corrected by the log of its chance of being drawn (Jean et al. 2015), so the
        estimate follows the full softmax's gradient; the targets, being word tokens,
        are themselves roughly Zipf-distributed, and count as draws.
        """
        V, K = self.config.vocab_size, self.config.sampled
        draws = zipf_ids(K, V, x.device)
        cand, where = torch.unique(torch.cat([targets, draws]), return_inverse=True)  # (C,)
        logits = h @ self.output_weight()[cand].T + self.out.bias[cand]  # (B, C)
        if self.direct is not None:
            logits = logits + x @ self.direct.weight[cand].T
        q = zipf_prob(cand, V)  # (C,) chance of a single draw
        chance = -torch.expm1((K + targets.numel()) * torch.log1p(-q))  # 1 - (1 - q)^(K + B)
        logits = logits - torch.log(chance)
        return F.cross_entropy(logits, where[:targets.numel()])


class HierarchicalMLP(LanguageModelBase):
    """Lecture part 5 (WaveNet-style): neighbouring positions are merged in pairs, level by
    level, (B, T, m) -> (B, T/2, h) -> ... -> (B, 1, h), instead of all at once."""

    def __init__(self, config: ModelConfig):
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
        self.init_output()

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        h = self.drop(self.C(idx))  # (B, T, n_embd)
        for merge, norm in zip(self.merges, self.norms, strict=True):
            B, T, width = h.shape
            pre = merge(h.reshape(B, T // 2, 2 * width))  # (B, T/2, n_hidden)
            pre = norm(pre.flatten(0, 1)).view_as(pre)  # BatchNorm1d wants (N, features)
            h = self.drop(torch.tanh(pre))
        logits = self.out(h.flatten(1))  # (B, vocab_size); T is 1 here
        return logits, self.loss(logits, targets)


def zipf_prob(ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Log-uniform probability of id r: log((r + 2) / (r + 1)) / log(V + 1)."""
    r = ids.double()
    return (torch.log1p(1.0 / (r + 1)) / math.log(vocab_size + 1)).float()


def zipf_ids(k: int, vocab_size: int, device) -> torch.Tensor:
    """k ids drawn log-uniformly: floor(exp(u log(V + 1))) - 1 for u ~ U[0, 1)."""
    u = torch.rand(k, device=device, dtype=torch.float64)
    return (torch.exp(u * math.log(vocab_size + 1)).floor().long() - 1).clamp_(0, vocab_size - 1)
