"""One sampling step of a run's model as plain tensor operations: the graph an ONNX file holds.

    ids (B, T), the state before them  ->  logits (B, T, V), the state after them

One graph both reads a prompt (T tokens at once) and takes single steps (T = 1). The state is
what the family carries between steps, as `Model.begin/advance/keep` carry it, each tensor with
the batch first (a consumer keeps rows by indexing the first axis of every state tensor):

    window models (bigram, mlp, hierarchical)  window (B, block_size) int64: the last ids read
    rnn, gru                                   h (B, n_layer, n_hidden) float32
    lstm                                       h and c (B, n_layer, n_hidden) float32
    bow                                        sums (B, n_embd + 1) float32: the embeddings'
                                               sum so far, then how many tokens it holds
    transformer                                cache (B, n_layer, 2, n_head, P, head_size)
                                               float32: each layer's keys and values of the P
                                               tokens read so far (P is the next position)

Every state starts as zeros (P = 0: an empty cache). bow and the transformer have learned
positions: their state holds at most block_size tokens (`Step.max_positions`); past that nnlm
re-reads the last block_size tokens from the empty state (`PositionalModel.advance`), and so
must a consumer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..models.base import Model
from ..models.bow import BoW
from ..models.rnn import LSTM, Recurrent
from ..models.transformer import Transformer


@dataclass(frozen=True)
class State:
    """One state tensor of a step: its graph input `name`, its output `name + "_out"`."""

    name: str
    shape: tuple  # sizes; "batch" and "past" are the graph's dynamic axes
    dtype: str  # "int64" or "float32"
    what: str

    @property
    def output(self) -> str:
        """The graph output that holds this state after the step."""
        return self.name + "_out"

    def zeros(self, batch: int, past: int = 0) -> torch.Tensor:
        """The state of `batch` rows that have read nothing (or an example with `past` tokens)."""
        sizes = [batch if s == "batch" else past if s == "past" else s for s in self.shape]
        return torch.zeros(sizes, dtype=torch.int64 if self.dtype == "int64" else torch.float32)


class Step(nn.Module):
    """A family's step over a trained model (in eval mode): forward(ids, *states) ->
    (logits, *states after)."""

    states: list[State]
    max_positions: int | None = None  # the most tokens the state holds (None: any number)
    dynamo: bool = True  # torch.export's exporter (else the TorchScript one: see RecurrentStep)

    def __init__(self, model: Model):
        super().__init__()
        self.model = model
        self.eval()

    def examples(self, batch: int = 2, length: int = 3, past: int = 2,
                 seed: int = 0) -> tuple[torch.Tensor, ...]:
        """Inputs of these sizes: ids (batch, length), random (from `seed`), and each state, zeros
        (an example cache holds `past` tokens)."""
        generator = torch.Generator().manual_seed(seed)
        ids = torch.randint(0, self.model.config.vocab_size, (batch, length), generator=generator)
        return (ids, *(s.zeros(batch, past) for s in self.states))


class WindowStep(Step):
    """A window model: each new id's logits from the block_size ids that end with it."""

    def __init__(self, model: Model):
        super().__init__(model)
        block = model.config.block_size
        self.states = [State("window", ("batch", block), "int64",
                             "the last block_size ids read (the boundary id 0 before the first; a "
                             "labelled run's: the last block_size - 1 and the label)")]

    def forward(self, ids: torch.Tensor, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ids (B, T) after the window (B, block_size) -> logits (B, T, V), the last block_size ids."""
        if self.model.config.labels and window.shape[1] >= 2:
            return self.labelled(ids, window)
        B, T = ids.shape
        block = window.shape[1]
        seq = torch.cat([window, ids], 1)  # (B, block + T)
        ends = torch.arange(T, device=ids.device).unsqueeze(1)  # (T, 1)
        index = ends + torch.arange(1, block + 1, device=ids.device)  # (T, block): the window up to each id
        logits, _ = self.model(seq[:, index].reshape(B * T, block))  # (B * T, V)
        return logits.reshape(B, T, -1), seq[:, T:]  # (B, T, V), (B, block)

    def labelled(self, ids: torch.Tensor, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A labelled run's window reads the item so far and then its label (data/windows.py):
        the state keeps the label in its last column. A fresh state (all zeros: no label is id 0)
        takes the first id read as the label, which begins the item as the boundary does."""
        B, T = ids.shape
        width = window.shape[1] - 1
        fresh = window[:, -1:] == 0  # (B, 1)
        label = torch.where(fresh, ids[:, :1], window[:, -1:])  # (B, 1)
        first = torch.where(fresh, torch.zeros_like(label), ids[:, :1])  # the label read as the item's start
        seq = torch.cat([window[:, :-1], first, ids[:, 1:]], 1)  # (B, width + T)
        ends = torch.arange(T, device=ids.device).unsqueeze(1)  # (T, 1)
        index = ends + torch.arange(1, width + 1, device=ids.device)  # (T, width)
        context = torch.cat([seq[:, index], label.unsqueeze(1).expand(B, T, 1)], 2)  # (B, T, width + 1)
        logits, _ = self.model(context.reshape(B * T, width + 1))  # (B * T, V)
        return logits.reshape(B, T, -1), torch.cat([seq[:, T:], label], 1)  # (B, T, V), (B, width + 1)


class RecurrentStep(Step):
    """rnn, gru, lstm: the recurrent state carried, batch first. Exported by the TorchScript
    exporter, which writes ONNX's RNN, GRU and LSTM operators: torch.export's unrolls the time
    loop, so its graph reads only as many ids as the example it was traced with."""

    dynamo = False

    def __init__(self, model: Recurrent):
        super().__init__(model)
        c = model.config
        names = ("h", "c") if isinstance(model, LSTM) else ("h",)
        self.states = [State(name, ("batch", c.n_layer, c.n_hidden), "float32",
                             f"the recurrent {'cell' if name == 'c' else 'hidden'} state of each layer")
                       for name in names]

    def forward(self, ids: torch.Tensor, *state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """ids (B, T) after the state (h, and c for the LSTM: (B, n_layer, n_hidden) each) ->
        logits (B, T, V), the state after them."""
        inner = tuple(s.transpose(0, 1).contiguous() for s in state)  # (n_layer, B, n_hidden) each
        h, after = self.model.rnn(self.model.wte(ids), inner if len(inner) > 1 else inner[0])  # (B, T, hid)
        after = after if isinstance(after, tuple) else (after,)
        return (self.model.head(h), *(s.transpose(0, 1) for s in after))  # (B, T, V), states


class BoWStep(Step):
    """bow: the running sum of the embeddings, and how many tokens it holds."""

    def __init__(self, model: BoW):
        super().__init__(model)
        c = model.config
        self.max_positions = c.block_size
        self.states = [State("sums", ("batch", c.n_embd + 1), "float32",
                             "the sum of the embeddings read so far, then how many tokens that is")]

    def forward(self, ids: torch.Tensor, sums: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ids (B, T) after the sums (B, n_embd + 1) -> logits (B, T, V), the sums after them. The
        positions read so far and these must not pass block_size (wpe has no more)."""
        m = self.model
        total, count = sums[:, :-1], sums[:, -1:]  # (B, n_embd), (B, 1)
        steps = torch.arange(ids.shape[1], device=ids.device)  # (T,)
        x = m.wte(ids) + m.wpe(count.long() + steps)  # (B, T, n_embd)
        running = total.unsqueeze(1) + x.cumsum(1)  # (B, T, n_embd)
        logits = m.mix(x, running, (count + 1 + steps).unsqueeze(-1))  # (B, T, V)
        return logits, torch.cat([running[:, -1], count + ids.shape[1]], 1)


class TransformerStep(Step):
    """The transformer: a key-value cache; the new ids attend to the cached tokens and to each
    other causally (nnlm's Block, with the mask spelled out for a cache and several new ids)."""

    def __init__(self, model: Transformer):
        super().__init__(model)
        c = model.config
        self.max_positions = c.block_size
        self.states = [State("cache", ("batch", c.n_layer, 2, c.n_head, "past", c.n_embd // c.n_head),
                             "float32", "each layer's keys and values of the tokens read so far")]

    def forward(self, ids: torch.Tensor, cache: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ids (B, T) after the cache (B, n_layer, 2, n_head, past, head_size) -> logits (B, T, V),
        the cache of past + T tokens; past + T must not pass block_size."""
        m = self.model
        B, T = ids.shape
        past = cache.shape[4]
        pos = past + torch.arange(T, device=ids.device)  # (T,) the new ids' positions
        seen = torch.arange(past + T, device=ids.device).unsqueeze(0) <= pos.unsqueeze(1)  # (T, past + T)
        x = m.wte(ids) + m.wpe(pos)  # (B, T, n_embd)
        layers = []
        for i, block in enumerate(m.blocks):
            q, k, v = (block.heads(t) for t in block.qkv(block.ln_1(x)).chunk(3, dim=-1))  # (B, nh, T, hs)
            k, v = torch.cat([cache[:, i, 0], k], 2), torch.cat([cache[:, i, 1], v], 2)  # (B, nh, past+T, hs)
            layers.append(torch.stack([k, v], 1))  # (B, 2, nh, past + T, hs)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.shape[-1]))  # (B, nh, T, past + T)
            att = att.masked_fill(~seen, float("-inf")).softmax(-1)
            x = x + block.proj((att @ v).transpose(1, 2).reshape(B, T, -1))
            x = x + block.fc_out(block.mlp_hidden(x))
        return m.output(m.ln_f(x))[0], torch.stack(layers, 1)  # (B, T, V), (B, n_layer, 2, nh, past + T, hs)


def step_of(model: Model) -> Step:
    """The step module of a trained model of any family."""
    if isinstance(model, Transformer):
        return TransformerStep(model)
    if isinstance(model, BoW):
        return BoWStep(model)
    if isinstance(model, Recurrent):
        return RecurrentStep(model)
    return WindowStep(model)
