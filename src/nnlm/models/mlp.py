"""Bengio et al. (2003) MLP language model: y = b + W x + U tanh(d + H x).

x is the concatenation of the block_size previous tokens' rows of the embedding
table C; W (direct connections) is optional. Options beyond the paper: several
hidden layers, LayerNorm/BatchNorm before each tanh, dropout, tied embeddings and a
sampled softmax for big vocabularies. In a labelled run the label (read last in every
window) also scales and shifts every hidden layer (FiLM). Nothing here knows about files
or the CLI.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import NnlmError
from ..settings import setting
from .base import (
    Family,
    ModelConfig,
    WindowModel,
    block_size,
    dropout,
    make_norm,
    n_embd,
    n_hidden,
    n_layer,
    norm,
    sampled,
)

INITS = ("scaled", "normal")


@dataclass
class MLPConfig(ModelConfig):
    block_size: int = block_size(3)
    n_embd: int = n_embd(10)
    n_hidden: int = n_hidden(200)
    direct: bool = setting(False, "direct connections from the embeddings to the output (the paper's W)")
    init: str = setting("scaled", "scaled (pre-activations of unit scale) or normal (plain N(0, 1), "
                        "the lecture's part 2)", choices=INITS)
    n_layer: int = n_layer(1)
    norm: str = norm("none")
    dropout: float = dropout(0.0)
    sampled: int = sampled(0)
    tie: bool = setting(False, "the output layer uses C's word vectors (tied embeddings; through a linear "
                        "projection to n_embd when n_hidden differs)")
    film: bool = setting(True, "in a labelled run, the label also scales and shifts every hidden layer "
                         "(FiLM); off: the label is one input of the window only")

    def validate(self) -> None:
        super().validate()
        if self.tie and self.init == "normal":
            raise NnlmError("tie=True is for init='scaled'", cli="--tie is for --init scaled")

    @property
    def paper_exact(self) -> bool:
        """The paper's model exactly: one tanh layer, no norm, no dropout, full softmax, untied
        (what the hand-written backward computes)."""
        return self.n_layer == 1 and self.norm == "none" and not self.dropout and not self.sampled \
            and not self.tie and not self.labels


class MLP(WindowModel):
    """The paper's model; n_layer > 1 stacks more tanh layers of n_hidden units."""

    def __init__(self, config: MLPConfig):
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
        # a labelled run's label, read last in every window, also sets a gain and a shift of
        # each hidden layer's pre-activations (FiLM, Perez et al. 2018), a linear map of the
        # label's row of C: as an input alone it only adds to the first layer, and the model
        # then blurred the labels (benchmarks/results/control_labels.md)
        self.film = (nn.Linear(config.n_embd, 2 * config.n_layer * config.n_hidden)
                     if config.film and config.labels and config.block_size >= 2 else None)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """The init its config names: the lecture's part 2 (plain N(0, 1)) or scaled (part 3)."""
        if self.config.init == "normal":
            # lecture part 2: every parameter plain N(0, 1)
            for p in self.parameters():
                p.normal_()
            if self.direct is not None:
                self.direct.weight.zero_()
            self.reset_film()
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
            self.init_output(self.out)
        if self.direct is not None:
            self.direct.weight.zero_()
        self.reset_film()

    def reset_film(self) -> None:
        """FiLM starts as gain 1, shift 0: the plain MLP, the label read as an input only."""
        if self.film is not None:
            self.film.weight.zero_()
            self.film.bias.zero_()

    def embeddings(self) -> torch.Tensor:
        return self.C.weight

    def label_film(self, e: torch.Tensor) -> torch.Tensor | None:
        """The gains and shifts of a labelled run's hidden layers from the windows' embeddings
        e (B, block_size, n_embd), whose last row is the label's: (B, n_layer, 2, n_hidden);
        None in a run without labels."""
        if self.film is None:
            return None
        return self.film(e[:, -1]).view(e.shape[0], self.config.n_layer, 2, self.config.n_hidden)

    def hidden_stack(self, x: torch.Tensor, collect: list | None = None,
                     film: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, n_in) through the tanh layers -> (B, n_hidden); each layer's tanh output
        (before dropout) is appended to `collect` if given; `film` (B, n_layer, 2, n_hidden):
        each layer's (normalised) pre-activations times 1 + gain, plus shift."""
        h = x
        for i, layer in enumerate([self.hidden, *self.deeper]):
            pre = layer(h)  # (B, n_hidden)
            pre = self.norms[i](pre) if self.norms is not None else pre
            if film is not None:
                pre = torch.addcmul(film[:, i, 1], pre, 1 + film[:, i, 0])
            h = torch.tanh(pre)
            if collect is not None:
                collect.append(h)
            if self.drop is not None:
                h = self.drop(h)
        return h

    def activations(self, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        layers, e = [], self.C(idx)  # (N, block_size, n_embd)
        self.hidden_stack(e.flatten(1), layers, self.label_film(e))
        return {f"hidden {i} (tanh)": h for i, h in enumerate(layers, 1)}

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """idx (B, block_size) token ids -> logits (B, vocab_size), mean cross-entropy or None
        (with config.sampled, training gives (None, a sampled softmax's loss): Model.output)."""
        e = self.C(idx)  # (B, block_size, n_embd)
        x = e.flatten(1)  # (B, block_size * n_embd)
        if self.drop is not None:
            x = self.drop(x)
        h = self.hidden_stack(x, film=self.label_film(e))
        if self.proj is not None:
            h = self.proj(h)  # (B, n_embd)
        return self.output(h, targets, direct=(x, self.direct.weight) if self.direct is not None else None)

    def loss_and_grad(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """As Model.loss_and_grad. The paper's model exactly (config.paper_exact), in fp32, takes
        the hand-written backward: autograd records and replays a graph of ~30 small operations
        per step, which for a model this small costs as much as the arithmetic; these ~20
        kernels compute the same loss and gradients (tests/models/test_hand_written_backward.py). Under bf16
        autocast, autograd's."""
        if self.config.paper_exact and not torch.is_autocast_enabled(idx.device.type):
            return self.hand_written_loss_and_grad(idx, targets)
        return super().loss_and_grad(idx, targets)

    @torch.no_grad()
    def hand_written_loss_and_grad(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The mean cross-entropy on idx (B, block_size), targets (B,), as a 0-d tensor, and its
        gradients written into every p.grad (allocated where it is None), overwriting them: the
        contract of Model.loss_and_grad, for config.paper_exact models."""
        for p in self.parameters():
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        C, hidden, out, direct = self.C.weight, self.hidden, self.out, self.direct
        B = idx.shape[0]
        x = C[idx].view(B, -1)  # (B, block_size * n_embd)
        h = torch.addmm(hidden.bias, x, hidden.weight.t()).tanh_()  # (B, n_hidden)
        logits = torch.addmm(out.bias, h, out.weight.t())  # (B, V)
        if direct is not None:
            logits.addmm_(x, direct.weight.t())
        logp = torch.log_softmax(logits, dim=1)  # (B, V)
        loss = logp.gather(1, targets.unsqueeze(1)).mean().neg()
        # d loss / d logits = (softmax - onehot(target)) / B
        dlogits = logp.exp_()
        dlogits.scatter_add_(1, targets.unsqueeze(1), dlogits.new_full((B, 1), -1.0))
        dlogits.mul_(1.0 / B)
        torch.mm(dlogits.t(), h, out=out.weight.grad)  # (V, n_hidden)
        torch.sum(dlogits, 0, out=out.bias.grad)
        dpre = torch.mm(dlogits, out.weight)  # (B, n_hidden), d loss / d tanh output
        dpre.mul_(h.mul_(h).neg_().add_(1.0))  # through tanh: * (1 - h^2)
        torch.mm(dpre.t(), x, out=hidden.weight.grad)  # (n_hidden, n_in)
        torch.sum(dpre, 0, out=hidden.bias.grad)
        dx = torch.mm(dpre, hidden.weight)  # (B, n_in)
        if direct is not None:
            torch.mm(dlogits.t(), x, out=direct.weight.grad)
            dx.addmm_(dlogits, direct.weight)
        C.grad.zero_()
        C.grad.index_add_(0, idx.reshape(-1), dx.view(-1, C.shape[1]))
        return loss


def auto(data) -> tuple[dict, list[str]]:
    """Size and regularisation by the number of training tokens T (see auto.py)."""
    T = data.tokens
    if data.chars_per_token > 1.5:  # words, subwords: nnlm's best MLP on Brown, shrunk to the budget
        settings = dict(block_size=4, n_embd=64, n_hidden=256, tie=True, dropout=0.3, weight_decay=0.1,
                        lr=3e-3, min_lr=0.05, sampled=4096 if data.vocab_size > 8192 else 0)
        sampled = ", sampled softmax 4096" if settings["sampled"] else ""
        return settings, [f"tokens of {data.chars_per_token:.1f} characters: context 4, tied embeddings "
                          f"of 64, 256 tanh units, dropout 0.3{sampled}"]
    drop = round(min(0.4, max(0.05, 0.15 + 0.06 * math.log2(100_000 / max(T, 1)))), 2)
    width = 256 if T < 5_000 else 512
    settings = dict(block_size=8, n_embd=24, n_hidden=width, n_layer=2, norm="layer", dropout=drop,
                    weight_decay=0.1, lr=3e-3, min_lr=0.02)
    return settings, [f"context 8, two LayerNorm tanh layers of {width}, dropout {drop} "
                      f"(more for less data), weight decay 0.1"]


PRESETS = {
    # the earlier default: fast and good on names on a laptop CPU (README "Performance")
    "quick": dict(block_size=6, n_embd=16, n_hidden=384, batch_size=1024, steps=1500,
                    lr=1e-2, optimizer="adamw", lr_schedule="cosine", warmup_steps=0,
                    min_lr=0.02, weight_decay=0.0, eval_interval=100, log_interval=50),
    # the best MLP we found for names in about 8,000 steps (4 to 7 minutes on 2 CPU cores),
    # chosen on dev by benchmarks/results/sweep_best_stage*.md and best_full_budget.md
    "best": dict(block_size=8, n_embd=24, n_hidden=512, n_layer=2, norm="layer", dropout=0.15,
                 weight_decay=0.1, batch_size=1024, steps=8000, lr=3e-3, optimizer="adamw",
                 lr_schedule="cosine", warmup_steps=0, min_lr=0.02, eval_interval=500,
                 log_interval=50),
    # the quickest route to the lecture's loss: ~2.15 in well under a second on 2 cores
    "fast": dict(block_size=4, n_embd=10, n_hidden=96, batch_size=512, steps=500, lr=3e-2,
                 optimizer="adamw", lr_schedule="cosine", warmup_steps=0, min_lr=0.02,
                 weight_decay=0.0, eval_interval=50, log_interval=50),
    # Karpathy's makemore part 2, exactly: plain N(0,1) init, SGD, lr 0.1 then 0.01
    "lecture": dict(block_size=3, n_embd=10, n_hidden=200, init="normal", batch_size=32,
                    steps=200_000, lr=0.1, optimizer="sgd", lr_schedule="step",
                    lr_drop_step=100_000, lr_drop=0.1, weight_decay=0.0, warmup_steps=0,
                    eval_interval=10_000, log_interval=1000),
}

FAMILY = Family("mlp", MLPConfig, MLP, "the paper's MLP: a window of embeddings, tanh layers, softmax",
                PRESETS, auto)
