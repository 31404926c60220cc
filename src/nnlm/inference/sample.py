"""Sampling: what is asked (SampleRequest, checked in one place for the Python API, the command
line and the server), and batched generation, many sequences advancing together, one step of
the run's predictor per position."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace

import torch

from ..data.text import read_items
from ..data.vocab import BOUNDARY_ID
from ..errors import NnlmError, SettingError
from ..settings.declare import setting, settings_of
from .constraints import BadPattern, Constraint, TextRule, Unsatisfiable, compile_constraint
from .predictor import Predictor

MAX_SEED = 2**63 - 1
EXACT_TRIES = 100_000  # --exact draws at most this many samples (or 100 per sample asked) by default
RULES = ("regex", "contains", "suffix", "min_chars", "max_chars")  # the controls a TextRule holds


@dataclass(frozen=True)
class SampleRequest:
    """What is asked of sampling, as the Python API, `nnlm sample` and `nnlm serve` take it.
    Each control is declared once here (its flag and help come from it); `checked` fills in the
    data's defaults and checks every control, the one place that does."""

    num: int = setting(10, "how many samples (the command line: 20 of a list; one continuation of running "
                       "text, printed as it is drawn)", at_least=1, flag="--num-samples", aliases=("-n",),
                       hidden=("--num",))
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
    regex: str = setting("", "every sample, as text (the prefix included), matches this pattern in full "
                         "(Python's syntax; \\w, \\d and \\s stand for ASCII characters only)",
                         metavar="PATTERN")
    contains: str = setting("", "every sample holds this text", metavar="TEXT")
    suffix: str = setting("", "every sample ends with this text", metavar="TEXT")
    min_chars: int = setting(0, "the shortest sample, in characters (the prefix included; a list's samples "
                             "only)", at_least=0, metavar="N")
    max_chars: int | None = setting(None, "the longest sample, in characters (the prefix included; a list's "
                                    "samples only; 0 or none: no limit)", at_least=0, metavar="N")
    exclude: str = setting("", "a file of items, one a line, that no sample may be (a list's samples only)",
                           metavar="FILE")
    exact: bool = setting(False, "samples from the model's own distribution given the constraints: whole "
                          "samples are drawn and those that fail are drawn again, up to --tries, rather "
                          "than steered token by token (which changes the distribution)")
    tries: int | None = setting(None, "with --exact: the most samples drawn in all before giving up "
                                f"(default: {EXACT_TRIES:,}, or 100 for each sample asked where that is "
                                "more; 0: the default)", at_least=0, metavar="N")
    label: str = setting("", "a labelled run: samples of this label (default: across the labels, each "
                         "drawn in its share of the training items, each sample marked with its label)",
                         metavar="LABEL")
    prefix_ids: tuple[int, ...] = ()  # the prefix's token ids (set by `checked`)
    label_id: int | None = None  # the label's token (set by `checked`; None: no label asked)
    exclude_items: tuple[str, ...] = ()  # texts no sample may be: the exclude file's (set by `checked`),
    # or given (the server's JSON array)
    constraint: Constraint | None = None  # the compiled constraint (set by `checked`; None: none)

    def checked(self, source, *, limits: dict[str, int | float] | None = None) -> SampleRequest:
        """This request for a run whose data is `source` (data.sources.Source), or a one-line
        SettingError for a control it cannot take (which names the control as its reader
        knows it: argument, flag or JSON field). It gets the data's max_len (a stream's samples
        are all max_len tokens long: a stream has no end), off-switches as None (top_k 0,
        top_p 1, max_chars 0), the prefix's ids, the texts to exclude, the tries --exact may
        draw, and the constraint compiled once for all the samples (constraints.py; a byte-level
        BPE run always has one: whole characters). `limits`: the caller's upper bounds
        ({setting: most})."""
        declared = {s.name: s for s in settings_of(SampleRequest)}
        for key, s in declared.items():
            (replace(s, at_most=limits[key]) if limits and key in limits else s).check(getattr(self, key))
        label_id = self.label_of(source, declared)
        if self.new_only and not source.marks_novelty:
            raise SettingError("{0} needs a run that keeps its items (a list of characters or subwords); "
                               "this run keeps no list of items to compare with", declared["new_only"])
        max_len = self.max_len or source.default_max_len()
        min_len = self.min_len if source.ends else max_len
        if min_len > max_len:
            raise SettingError(f"{{0}} ({min_len}) must not exceed {{1}} ({max_len})", declared["min_len"],
                               declared["max_len"])
        prefix_ids = tuple(source.encode(self.prefix, "the prefix"))
        rule = self.rule(source, declared)
        tries = self.tries or max(EXACT_TRIES, 100 * self.num)
        return replace(self, min_len=min_len, max_len=max_len, top_k=self.top_k or None,
                       top_p=self.top_p if self.top_p is not None and self.top_p < 1 else None,
                       prefix_ids=prefix_ids, max_chars=rule.max_chars, label_id=label_id,
                       tries=min(tries, limits.get("tries", tries)) if limits else tries,
                       exclude_items=self.excluded(source, declared),
                       constraint=constrained(source, rule, list(prefix_ids[:max_len]), min_len, max_len,
                                              declared, [k for k in RULES if getattr(self, k)]))

    def label_of(self, source, declared: dict) -> int | None:
        """The token of the label asked for, or None; SettingError for a label the run lacks."""
        if not self.label:
            return None
        try:
            return source.label_token(self.label)
        except NnlmError as e:  # no such label (the error lists the run's)
            raise SettingError("{0}: " + braced(str(e)), declared["label"]) from None

    def rule(self, source, declared: dict) -> TextRule:
        """What every sample's text must be (checked: limits that running text refuses, and
        characters a character-level run cannot spell)."""
        rule = TextRule(self.regex, self.contains, self.suffix, self.min_chars, self.max_chars or None)
        if not source.ends and (rule.min_chars or rule.max_chars is not None):
            which = declared["min_chars" if rule.min_chars else "max_chars"]
            raise SettingError("{0} is for a list's samples: running text's are {1} tokens long, ask for "
                               "their length in tokens", which, declared["max_len"])
        if rule.max_chars is not None and rule.min_chars > rule.max_chars:
            raise SettingError(f"{{0}} ({rule.min_chars}) must not exceed {{1}} ({rule.max_chars})",
                               declared["min_chars"], declared["max_chars"])
        for key in ("contains", "suffix"):
            try:
                source.encode(getattr(self, key), "")
            except NnlmError as e:  # a character the run's vocabulary lacks
                raise SettingError("{0}: " + braced(str(e)), declared[key]) from None
        return rule

    def excluded(self, source, declared: dict) -> tuple[str, ...]:
        """The texts no sample may be: the exclude file's items (or the items given), each also as
        the run writes it (a word run: single spaces, its case)."""
        items = list(self.exclude_items)
        if self.exclude:
            try:
                items += read_items(self.exclude)
            except NnlmError as e:  # no such file, empty, not UTF-8
                raise SettingError("{0}: " + braced(str(e)), declared["exclude"]) from None
        if items and not source.ends:
            raise SettingError("{0} is for a list's samples: running text has no items", declared["exclude"])
        written = set(items)
        for item in items:
            with contextlib.suppress(NnlmError):  # a character the run lacks: it cannot be sampled anyway
                written.add(source.decode(source.encode(item, "it")))
        return tuple(sorted(written))

    @property
    def rounds(self) -> bool:
        """Whether samples are drawn in rounds, those that fail a test being drawn again."""
        return bool(self.unique or self.new_only or self.exclude_items or self.exact)

    def controls(self) -> dict:
        """The keyword arguments of `generate` (after `checked`)."""
        return dict(temperature=self.temperature, top_k=self.top_k, top_p=self.top_p, min_len=self.min_len,
                    max_len=self.max_len, constraint=self.constraint, exact=self.exact)

    def batch_key(self) -> tuple:
        """Requests with equal keys can be generated in one batch, each with its own seed
        (a request drawn in rounds draws them on its own)."""
        if self.rounds:
            return ("rounds", id(self))
        return (self.prefix_ids, self.label_id, *self.controls().values())


def too_rare(tries: int) -> SettingError:
    """The error of exact sampling when none of `tries` samples met the constraints."""
    declared = {s.name: s for s in settings_of(SampleRequest)}
    return SettingError(f"{{0}}: none of the {tries:,} samples drawn satisfied the constraints, which are "
                        "too rare to draw exactly: leave out {0} to steer samples token by token, or allow "
                        "more {1}", declared["exact"], declared["tries"])


def braced(text: str) -> str:
    """`text` as a literal part of a SettingError's template."""
    return text.replace("{", "{{").replace("}", "}}")


def constrained(source, rule: TextRule, prefix: list[int], min_len: int, max_len: int, declared: dict,
                given: list[str]) -> Constraint | None:
    """The compiled constraint of `rule` (constraints.compile_constraint), its errors as
    SettingErrors that name the controls (`given`: the names of those given)."""
    try:
        return compile_constraint(source, rule, prefix, min_len, max_len)
    except BadPattern as e:
        raise SettingError("{0} " + braced(str(e)), declared["regex"]) from None
    except NnlmError as e:  # an impossible or too complex constraint
        names = [f"{{{k}}}" for k in range(len(given))] or ["the run's own rule (whole characters)"]
        names = " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
        hint = f" (a higher {{{len(given)}}} may)" if isinstance(e, Unsatisfiable) and e.longer else ""
        raise SettingError(f"{names}: {braced(str(e))}{hint}", *(declared[k] for k in given),
                           declared["max_len"]) from None


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
             max_len: int = 64, constraint: Constraint | None = None, exact: bool = False,
             starts: torch.Tensor | None = None, generator: torch.Generator | None = None,
             groups: list[tuple[torch.Generator, int]] | None = None,
             on_token=None) -> list[list[int] | None]:
    """`num` token sequences, each starting with `prefix`, ending at the boundary token
    (not included) or at max_len tokens. The end token is forbidden before min_len.
    `on_token(id)` is called with each token of the first sequence as it is drawn. The
    controls are a checked request's (SampleRequest.controls): nothing here checks them.

    `constraint` (constraints.Constraint, compiled for this prefix and these lengths): each row
    draws only the tokens that leave a way to satisfy it (the others' logits are -inf before
    temperature, top-k and top-p); with `exact`, rows draw from the model as it is, and a row
    that can no longer satisfy the constraint stops there: its sequence is None. `starts` (R,):
    each row's first token where not the boundary (a labelled run: its label's).

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
    lengths = torch.full((num,), max_len, dtype=torch.long, device=device)  # -1: failed the constraint
    rows = torch.arange(num, device=device)  # (R,) the rows still being written
    guide = constraint.guide(num, device) if constraint is not None else None
    context = torch.tensor([[BOUNDARY_ID, *prefix]], dtype=torch.long, device=device).expand(num, -1)
    if starts is not None:  # (R, 1 + len(prefix)): each row from its label
        context = torch.cat([starts.to(device).view(-1, 1), context[:, 1:]], 1)
    logits, state = predictor.begin(context)  # (R, V)
    for pos in range(len(prefix), max_len):
        if pos < min_len:
            logits[:, BOUNDARY_ID] = float("-inf")
        allowed = guide.allowed(pos) if guide is not None else None  # (R, V)
        if allowed is not None and allowed.shape[1] < logits.shape[1]:  # a labelled run: never a label
            extra = allowed.new_zeros(len(allowed), logits.shape[1] - allowed.shape[1])
            allowed = torch.cat([allowed, extra], 1)
        if allowed is not None and not exact:
            logits = logits.masked_fill(~allowed, float("-inf"))
        alive = torch.bincount(owner[rows.cpu()], minlength=len(groups)).tolist()
        uniform = torch.cat([torch.rand(k, 1, device=device, generator=g)
                             for (g, _), k in zip(groups, alive, strict=True) if k])  # (R, 1)
        token = _choose(logits.float(), temperature, top_k, top_p, uniform)  # (R,)
        out[rows, pos] = token
        if on_token is not None and rows[0] == 0 and token[0] != BOUNDARY_ID:
            on_token(int(token[0]))
        going = token != BOUNDARY_ID
        lengths[rows[~going]] = pos
        if allowed is not None:
            failed = ~allowed.gather(1, token[:, None]).squeeze(1)  # (R,) only with exact
            lengths[rows[failed]] = -1
            going &= ~failed
            guide.advance(token)
        rows = rows[going]
        if rows.numel() == 0 or pos + 1 == max_len:
            break
        if guide is not None:
            guide.keep(going)
        logits, state = predictor.advance(predictor.keep(state, going), token[going])
    tokens = out.cpu().tolist()
    return [seq[:n] if n >= 0 else None for seq, n in zip(tokens, lengths.cpu().tolist(), strict=True)]


def _choose(logits, temperature, top_k, top_p, uniform) -> torch.Tensor:
    """One token per row: greedy at temperature 0, else drawn from the filtered softmax
    by inverse CDF with the row's uniform (R, 1) (cheaper than torch.multinomial)."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = filter_logits(logits / temperature, top_k, top_p)
    cdf = torch.softmax(logits, dim=-1).cumsum_(dim=-1)  # (R, V)
    u = uniform * cdf[:, -1:]
    return torch.searchsorted(cdf, u, right=True).squeeze(1).clamp_(max=cdf.shape[1] - 1)
