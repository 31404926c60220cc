"""Bengio et al. (2003) MLP language model: y = b + W x + U tanh(d + H x).

x is the concatenation of the block_size previous tokens' rows of the embedding
table C; W (direct connections) is optional. Nothing here knows about files or CLI.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F

from .errors import NnlmError

INITS = ("scaled", "normal")


@dataclass
class ModelConfig:
    vocab_size: int
    block_size: int = 3  # n - 1 previous tokens
    n_embd: int = 10  # m, the feature-vector size
    n_hidden: int = 200  # h
    direct: bool = False  # the paper's W: embeddings straight to the output
    init: str = "scaled"  # "scaled" (lecture part 3) or "normal" (part 2's plain N(0, 1))
    sampled: int = 0  # train with a sampled softmax over this many candidates (0: full softmax)

    def validate(self) -> None:
        for name in ("vocab_size", "block_size", "n_embd", "n_hidden"):
            if getattr(self, name) < 1:
                raise NnlmError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.sampled < 0:
            raise NnlmError(f"--sampled-softmax must be >= 0, got {self.sampled}")
        if self.init not in INITS:
            raise NnlmError(f"init must be one of {', '.join(INITS)}, got {self.init!r}")

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(obj) - known
        if unknown:
            raise NnlmError(f"config.json: unknown model settings {sorted(unknown)}")
        cfg = cls(**obj)
        cfg.validate()
        return cfg


class MLP(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        config.validate()
        self.config = config
        n_in = config.block_size * config.n_embd
        self.C = nn.Embedding(config.vocab_size, config.n_embd)  # the feature vectors
        self.hidden = nn.Linear(n_in, config.n_hidden)  # H and d
        self.out = nn.Linear(config.n_hidden, config.vocab_size)  # U and b
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
        # (gain 1, not Kaiming's 5/3, which counters squashing in deep stacks and here
        # saturates ~13% of units), and a near-uniform first prediction so the initial
        # loss is ln|V| rather than confidently wrong
        fan_in = self.hidden.in_features
        self.C.weight.normal_()
        self.hidden.weight.normal_(0.0, 1.0 / math.sqrt(fan_in))
        self.hidden.bias.normal_(0.0, 0.01)
        self.out.weight.normal_(0.0, 0.01)
        self.out.bias.zero_()
        if self.direct is not None:
            self.direct.weight.zero_()

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """idx (B, block_size) token ids -> logits (B, vocab_size), mean cross-entropy or None.

        With config.sampled, training (model.train() and targets given) returns (None, an
        estimate of the loss from a sampled softmax); evaluation is always the exact softmax.
        """
        x = self.C(idx).flatten(1)  # (B, block_size * n_embd)
        h = torch.tanh(self.hidden(x))  # (B, n_hidden)
        if self.config.sampled and self.training and targets is not None:
            return None, self.sampled_loss(x, h, targets)
        logits = self.out(h)  # (B, vocab_size)
        if self.direct is not None:
            logits = logits + self.direct(x)
        loss = None if targets is None else F.cross_entropy(logits, targets)
        return logits, loss

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
        logits = h @ self.out.weight[cand].T + self.out.bias[cand]  # (B, C)
        if self.direct is not None:
            logits = logits + x @ self.direct.weight[cand].T
        q = zipf_prob(cand, V)  # (C,) chance of a single draw
        chance = -torch.expm1((K + targets.numel()) * torch.log1p(-q))  # 1 - (1 - q)^(K + B)
        logits = logits - torch.log(chance)
        return F.cross_entropy(logits, where[:targets.numel()])

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def decay_groups(self, weight_decay: float) -> list[dict]:
        """Optimizer groups: weight decay on weight matrices and C, none on biases."""
        decay = [p for name, p in self.named_parameters() if not name.endswith("bias")]
        no_decay = [p for name, p in self.named_parameters() if name.endswith("bias")]
        return [{"params": decay, "weight_decay": weight_decay},
                {"params": no_decay, "weight_decay": 0.0}]


def zipf_prob(ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Log-uniform probability of id r: log((r + 2) / (r + 1)) / log(V + 1)."""
    r = ids.double()
    return (torch.log1p(1.0 / (r + 1)) / math.log(vocab_size + 1)).float()


def zipf_ids(k: int, vocab_size: int, device) -> torch.Tensor:
    """k ids drawn log-uniformly: floor(exp(u log(V + 1))) - 1 for u ~ U[0, 1)."""
    u = torch.rand(k, device=device, dtype=torch.float64)
    return (torch.exp(u * math.log(vocab_size + 1)).floor().long() - 1).clamp_(0, vocab_size - 1)
