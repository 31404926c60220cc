"""Sampling: what is asked (SampleRequest, checked in one place for the Python API, the command
line and the server), and batched generation, many sequences advancing together, one step of
the run's predictor per position."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from ..data.vocab import BOUNDARY_ID
from ..errors import SettingError
from ..settings.declare import setting, settings_of
from .predictor import Predictor

MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class SampleRequest:
    """What is asked of sampling, as the Python API, `nnlm sample` and `nnlm serve` take it.
    Each control is declared once here (its flag and help come from it); `checked` fills in the
    data's defaults and checks every control, the one place that does."""

    num: int = setting(10, "how many samples", at_least=1, aliases=("-n",))
    prefix: str = setting("", "every sample starts with this text")
    temperature: float = setting(1.0, "divides the logits before drawing: below 1 sharper, above 1 "
                                 "flatter; 0 takes the most likely token (greedy)", at_least=0)
    top_k: int | None = setting(None, "draw from the K most likely tokens only (0 or none: all)",
                                at_least=0, metavar="K")
    top_p: float | None = setting(None, "draw from the most likely tokens that hold this share of the "
                                  "probability only (1 or none: all)", above=0, at_most=1, metavar="P")
    min_len: int = setting(0, "the end is not drawn before this many tokens", at_least=0)
    max_len: int | None = setting(None, "the longest sample, in tokens (0 or none: the data's default: "
                                  "twice the longest training item, 500 characters or 150 subwords of "
                                  "running text); running text: every sample's length", at_least=0)
    seed: int | None = setting(None, "the same seed gives the same samples (none: a fresh one)", at_least=0,
                               at_most=MAX_SEED)
    unique: bool = setting(False, "no repeats among the samples")
    new_only: bool = setting(False, "only items that are not in the run's data")
    prefix_ids: tuple[int, ...] = ()  # the prefix's token ids (set by `checked`)

    def checked(self, source, *, limits: dict[str, int | float] | None = None) -> SampleRequest:
        """This request for a run whose data is `source` (data.sources.Source), or a one-line
        SettingError for a control it cannot take (which names the control as its reader
        knows it: argument, flag or JSON field). It gets the data's max_len (a stream's samples
        are all max_len tokens long: a stream has no end), off-switches as None (top_k 0,
        top_p 1) and the prefix's ids. `limits`: the caller's upper bounds ({setting: most})."""
        declared = {s.name: s for s in settings_of(SampleRequest)}
        for key, s in declared.items():
            (replace(s, at_most=limits[key]) if limits and key in limits else s).check(getattr(self, key))
        if self.new_only and not source.marks_novelty:
            raise SettingError("{0} needs a run that keeps its items (a list of characters or subwords); "
                               "this run keeps no list of items to compare with", declared["new_only"])
        max_len = self.max_len or source.default_max_len()
        min_len = self.min_len if source.ends else max_len
        if min_len > max_len:
            raise SettingError(f"{{0}} ({min_len}) must not exceed {{1}} ({max_len})", declared["min_len"],
                               declared["max_len"])
        return replace(self, min_len=min_len, max_len=max_len, top_k=self.top_k or None,
                       top_p=self.top_p if self.top_p is not None and self.top_p < 1 else None,
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
def generate(predictor, num: int, prefix: list[int], *, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, min_len: int = 0,
             max_len: int = 64, generator: torch.Generator | None = None,
             groups: list[tuple[torch.Generator, int]] | None = None, on_token=None) -> list[list[int]]:
    """`num` token sequences, each starting with `prefix`, ending at the boundary token
    (not included) or at max_len tokens. The end token is forbidden before min_len.
    `on_token(id)` is called with each token of the first sequence as it is drawn. The
    controls are a checked request's (SampleRequest.controls): nothing here checks them.

    `predictor` is an inference.predictor.Predictor (or a bare model, the model alone): it
    carries its own state from step to step (begin/advance/keep), so a step costs one
    position whatever it reads. `groups` [(generator, rows)] batches several requests: each
    one's rows (in order) draw from its own generator just as they would alone, so a seed
    gives the same samples whatever it is batched with."""
    predictor = predictor if isinstance(predictor, Predictor) else Predictor.of(predictor)
    groups = groups or [(generator, num)]
    owner = torch.repeat_interleave(torch.arange(len(groups)), torch.tensor([n for _, n in groups]))
    predictor.model.eval()
    device = predictor.device
    prefix = prefix[:max_len]
    out = torch.full((num, max_len), BOUNDARY_ID, dtype=torch.long, device=device)
    out[:, :len(prefix)] = torch.tensor(prefix, dtype=torch.long)
    lengths = torch.full((num,), max_len, dtype=torch.long, device=device)
    rows = torch.arange(num, device=device)  # (R,) the rows still being written
    context = torch.tensor([[BOUNDARY_ID, *prefix]], dtype=torch.long, device=device).expand(num, -1)
    logits, state = predictor.begin(context)  # (R, V)
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
        logits, state = predictor.advance(predictor.keep(state, going), token[going])
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
