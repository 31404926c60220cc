"""Batched sampling: many sequences advance together, one forward pass per position."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from ..data.vocab import BOUNDARY_ID
from ..errors import NnlmError


def check_controls(temperature: float, top_k: int | None, top_p: float | None,
                   min_len: int, max_len: int) -> None:
    if temperature < 0:
        raise NnlmError(f"--temperature must be >= 0 (0 is greedy), got {temperature}")
    if top_k is not None and top_k < 1:
        raise NnlmError(f"--top-k must be at least 1, got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:
        raise NnlmError(f"--top-p must be in (0, 1], got {top_p}")
    if min_len < 0 or max_len < 1 or min_len > max_len:
        raise NnlmError(f"need 0 <= --min-len <= --max-len and --max-len >= 1, "
                        f"got {min_len} and {max_len}")


@dataclass(frozen=True)
class SampleRequest:
    """What is asked of sampling, as the Python API, `nnlm sample` and `nnlm serve` take it;
    `checked` fills in the data's defaults and checks every control, once."""

    num: int = 10
    prefix: str = ""  # every sample starts with it
    temperature: float = 1.0  # 0: greedy
    top_k: int | None = None
    top_p: float | None = None
    min_len: int = 0
    max_len: int | None = None  # None or 0: the data's default
    seed: int | None = None  # None: a fresh one
    unique: bool = False  # no repeats
    new_only: bool = False  # only items the data does not hold
    prefix_ids: tuple[int, ...] = ()  # the prefix's token ids (set by `checked`)

    def checked(self, source) -> SampleRequest:
        """This request for a run whose data is `source` (data.sources.Source): its max_len
        (a stream's samples are all max_len tokens long: a stream has no end), the prefix's
        ids, and a one-line NnlmError for a control it cannot take."""
        if self.num < 1:
            raise NnlmError(f"--num must be at least 1, got {self.num}")
        if self.new_only and not source.marks_novelty:
            raise NnlmError("new_only needs a run that keeps its items (a list of characters or subwords); "
                            "this run keeps no list of items to compare with")
        max_len = self.max_len or source.default_max_len()
        min_len = self.min_len if source.ends else max_len
        if min_len > max_len:
            raise NnlmError(f"min_len ({min_len}) must not exceed max_len ({max_len})")
        check_controls(self.temperature, self.top_k, self.top_p, min_len, max_len)
        return replace(self, min_len=min_len, max_len=max_len,
                       prefix_ids=tuple(source.encode(self.prefix, "the prefix")))

    def controls(self) -> dict:
        """The keyword arguments of `generate` (after `checked`)."""
        return dict(temperature=self.temperature, top_k=self.top_k, top_p=self.top_p, min_len=self.min_len,
                    max_len=self.max_len)

    def batch_key(self) -> tuple:
        """Requests with equal keys can be generated in one batch, each with its own seed
        (a request for unique or new samples draws rounds of its own)."""
        if self.unique or self.new_only:
            return ("rounds", id(self))
        return (self.prefix_ids, *self.controls().values())


def filter_logits(logits: torch.Tensor, top_k: int | None, top_p: float | None) -> torch.Tensor:
    """Keep the top_k most likely tokens and the smallest set holding top_p of the mass."""
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        mass_before = torch.cumsum(probs, dim=-1) - probs  # (B, V) mass of strictly likelier
        drop_sorted = mass_before >= top_p  # the first token is always kept
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


@torch.no_grad()
def generate(model, num: int, prefix: list[int], *, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, min_len: int = 0,
             max_len: int = 64, generator: torch.Generator | None = None,
             groups: list[tuple[torch.Generator, int]] | None = None, on_token=None) -> list[list[int]]:
    """`num` token sequences, each starting with `prefix`, ending at the boundary token
    (not included) or at max_len tokens. The end token is forbidden before min_len.
    `on_token(id)` is called with each token of the first sequence as it is drawn.

    The model carries its own state from step to step (models.base.Model.begin/advance),
    so a step costs one position whatever the model reads. `groups` [(generator, rows)]
    batches several requests: each one's rows (in order) draw from its own generator just
    as they would alone, so a seed gives the same samples whatever it is batched with."""
    check_controls(temperature, top_k, top_p, min_len, max_len)
    groups = groups or [(generator, num)]
    owner = torch.repeat_interleave(torch.arange(len(groups)), torch.tensor([n for _, n in groups]))
    model.eval()
    device = next(model.parameters()).device
    prefix = prefix[:max_len]
    out = torch.full((num, max_len), BOUNDARY_ID, dtype=torch.long, device=device)
    out[:, :len(prefix)] = torch.tensor(prefix, dtype=torch.long)
    lengths = torch.full((num,), max_len, dtype=torch.long, device=device)
    rows = torch.arange(num, device=device)  # (R,) the rows still being written
    context = torch.tensor([[BOUNDARY_ID, *prefix]], dtype=torch.long, device=device).expand(num, -1)
    logits, state = model.begin(context)  # (R, V)
    for pos in range(len(prefix), max_len):
        if pos < min_len:
            logits[:, BOUNDARY_ID] = float("-inf")
        alive = torch.bincount(owner[rows.cpu()], minlength=len(groups)).tolist()
        uniform = torch.cat([torch.rand(k, 1, device=device, generator=g)
                             for (g, _), k in zip(groups, alive, strict=True) if k])  # (R, 1)
        token = _choose(logits.float(), temperature, top_k, top_p, uniform)  # (R,)
        out[rows, pos] = token
        if on_token is not None and rows[0] == 0 and token[0] != BOUNDARY_ID:
            on_token(int(token[0]))
        going = token != BOUNDARY_ID
        lengths[rows[~going]] = pos
        rows = rows[going]
        if rows.numel() == 0 or pos + 1 == max_len:
            break
        logits, state = model.advance(model.keep(state, going), token[going])
    tokens = out.cpu().tolist()
    return [seq[:n] for seq, n in zip(tokens, lengths.cpu().tolist(), strict=True)]


def _choose(logits, temperature, top_k, top_p, uniform) -> torch.Tensor:
    """One token per row: greedy at temperature 0, else drawn from the filtered softmax
    by inverse CDF with the row's uniform (R, 1) (cheaper than torch.multinomial)."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = filter_logits(logits / temperature, top_k, top_p)
    cdf = torch.softmax(logits, dim=-1).cumsum_(dim=-1)  # (R, V)
    u = uniform * cdf[:, -1:]
    return torch.searchsorted(cdf, u, right=True).squeeze(1).clamp_(max=cdf.shape[1] - 1)
