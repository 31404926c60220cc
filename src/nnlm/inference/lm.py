"""The Python API: a trained model loaded from its run directory.

    model = nnlm.load("runs/names")
    model.sample(5, temperature=0.8)      # [Sample(text='kaylen', novelty='new'), ...]
    model.score(["emma"])                 # total and per-token log-probabilities
    model.evaluate("test")                # EvalResult(loss=..., tokens=...)
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch

from ..data.vocab import BOUNDARY_ID
from ..device import resolve_device
from ..display import html_table
from ..errors import NnlmError
from ..losses import EvalResult
from ..ngram.mixture import RunMixture
from ..run import rundir
from ..run.spec import RunSpec
from .predictor import Predictor
from .sample import MAX_SEED, SampleRequest, generate, too_rare

MAX_ROUNDS = 100  # sampling rounds for --unique/--new-only before giving up
SAMPLE_BATCH = 8192  # rows generated together


@dataclass
class Sample:
    text: str
    novelty: str | None  # "new", or the split it appears in: "train", "dev" or "test"; None: the
    # run keeps no list of its items to compare with (running text, words)


class Samples(list):
    """The samples a request drew (a list of Sample), and `tries`: the samples drawn in all, those
    that failed a test included (with exact, unique, new_only or exclude, those drawn again)."""

    tries: int = 0


@dataclass
class Score:
    text: str
    logprob: float  # natural log of p(item), the end token included
    tokens: list[tuple[str, float]]  # (token, log p) for each token, then the end

    def to_json(self) -> dict:
        """The score as `nnlm score --json` writes it: item, logprob and each token's."""
        return {"item": self.text, "logprob": self.logprob,
                "tokens": [{"token": t, "logprob": lp} for t, lp in self.tokens]}


class LanguageModel:
    """A trained run, ready to use: its spec (data, vocabulary, settings) and its predictor,
    the model mixed with its n-gram model where training found the mixture better on dev
    (`mixture` is then set; mix=False at load: the model alone)."""

    def __init__(self, predictor: Predictor, spec: RunSpec, mix_report: dict | None = None):
        predictor.model.eval()
        self.predictor, self.spec, self.mix_report = predictor, spec, mix_report
        self.source, self.vocab = spec.source, spec.vocab

    @property
    def model(self):
        """The trained model alone (a models.base.Model)."""
        return self.predictor.model

    @property
    def mixture(self) -> RunMixture | None:
        """The run's n-gram mixture, or None (the model alone)."""
        return self.predictor.mixture

    @property
    def device(self) -> torch.device:
        """The device the model is on."""
        return self.predictor.device

    @classmethod
    def load(cls, run_dir: str | Path, device: str = "auto", weights: str = "best",
             mix: bool = True) -> LanguageModel:
        """weights: "best" (best on dev, model.safetensors) or "last" (the checkpoint);
        mix: use the run's mixture where it has one (only with the best weights it was tuned on)."""
        spec = rundir.load_spec(run_dir)
        model = spec.family.build(spec.model_config)
        rundir.load_weights(spec.run_dir, model, weights)
        device = resolve_device(device)
        loaded = rundir.load_mixture(spec.run_dir) if mix and weights == "best" else None
        mixture = RunMixture(loaded[0], float(loaded[1]["weight"])) if loaded else None
        return cls(Predictor(model.to(device), device, mixture), spec, loaded[1] if loaded else None)

    def rows(self) -> list[tuple[str, str]]:
        """What a person wants to see of the run, as (name, value) rows."""
        spec = self.spec
        try:
            summary = rundir.read_summary(spec.run_dir)
        except NnlmError:  # a run still training, or stopped before its summary
            summary = {}
        losses = ", ".join(f"{k[:-5]} {summary[k]:.4f}" for k in ("train_loss", "dev_loss", "test_loss")
                           if summary.get(k) is not None)
        return [("run", str(spec.run_dir)), ("predictor", self.describe()),
                ("parameters", f"{self.model.num_parameters():,}"),
                ("data", f"{spec.data.path or 'the bundled names'} ({self.source.name}, "
                         f"{len(self.vocab):,} tokens in the vocabulary)"),
                ("losses (nats/token)", losses or "-")]

    def __repr__(self) -> str:
        return f"LanguageModel({', '.join(f'{k}: {v}' for k, v in self.rows())})"

    def _repr_html_(self) -> str:  # a notebook shows the run as a small table
        return html_table(self.rows())

    def describe(self) -> str:
        """What predicts: the model, or the mixture and its weights."""
        return self.predictor.describe(self.spec.family.name)

    def logprobs(self, windows_of) -> torch.Tensor:
        """log p of each example of `windows_of(width)` (a split, a file or given sequences,
        with contexts of `width` tokens), as this LanguageModel predicts: (N,) float64."""
        return self.predictor.logprobs(windows_of)

    def sample(self, num: int = 10, *, temperature: float = 1.0, top_k: int | None = None,
               top_p: float | None = None, prefix: str = "", min_len: int = 0,
               max_len: int | None = None, seed: int | None = None, unique: bool = False,
               new_only: bool = False, regex: str = "", contains: str = "", suffix: str = "",
               min_chars: int = 0, max_chars: int | None = None, exclude: str | Path | Iterable[str] = "",
               exact: bool = False, tries: int | None = None, on_text=None) -> Samples:
        """`num` samples; with unique/new_only/exclude/exact, draws more rounds until it has `num`.
        The constraints (regex, contains, suffix, min_chars, max_chars: what each sample's text,
        the prefix included, must be; exclude: a file of items, or the items, no sample may be)
        steer each sample token by token, or with `exact`, samples are drawn whole from the model
        and those that fail are drawn again (at most `tries`; the result's `tries` says how many
        were). `on_text(piece)`: the first sample's text, piece by piece as it is drawn.
        Raises SettingError (an NnlmError) for a control it cannot take, an impossible
        constraint, or one too rare for `exact`."""
        files = isinstance(exclude, (str, Path))
        return self.draw(SampleRequest(num=num, prefix=prefix, temperature=temperature, top_k=top_k,
                                       top_p=top_p, min_len=min_len, max_len=max_len, seed=seed,
                                       unique=unique, new_only=new_only, regex=regex, contains=contains,
                                       suffix=suffix, min_chars=min_chars, max_chars=max_chars,
                                       exclude=str(exclude) if files else "", exact=exact, tries=tries,
                                       exclude_items=() if files else tuple(exclude)), on_text)

    def draw(self, request: SampleRequest, on_text=None) -> Samples:
        """The samples `request` asks for (fewer where the model cannot make that many unique,
        new or not excluded ones in MAX_ROUNDS rounds, or, with exact, in `tries` draws);
        `on_text` as for `sample` (with exact, the first sample whole once it is found: a row
        may yet fail while it is drawn)."""
        request = request.checked(self.source)
        generator = torch.Generator(self.device)  # (torch's global generator is left as it was)
        generator.manual_seed(request.seed if request.seed is not None else secrets.randbelow(MAX_SEED))
        found, seen, excluded, rounds = Samples(), set(), set(request.exclude_items), 0
        while batch := self.batch_size(request, request.num - len(found), len(found), found.tries, rounds):
            stream = self.text_stream(request, on_text) if not (found.tries or request.exact) else None
            rows = generate(self.predictor, batch, list(request.prefix_ids), generator=generator,
                            on_token=stream, **request.controls())
            rounds += 1
            if self.keep(request, rows, found, seen, excluded):
                break
        if request.exact and not found:
            raise too_rare(found.tries)
        if request.exact and on_text is not None:
            on_text(found[0].text)
        return found

    def keep(self, request: SampleRequest, rows: list, found: Samples, seen: set, excluded: set) -> bool:
        """Add to `found` the samples of `rows` (generate's, None: failed the constraint) that pass
        the request's tests (unique: not in `seen`; new_only; not `excluded`), counting the rows
        tried; whether it now has all it asked for."""
        for k, seq in enumerate(rows):
            sample = self.samples_of([seq])[0] if seq is not None else None
            if sample is None or (request.unique and sample.text in seen) or sample.text in excluded \
                    or (request.new_only and sample.novelty != "new"):
                continue
            seen.add(sample.text)
            found.append(sample)
            if len(found) == request.num:
                found.tries += k + 1  # the rows drawn up to the last one kept
                return True
        found.tries += len(rows)
        return False

    @staticmethod
    def batch_size(request: SampleRequest, want: int, found: int, tries: int, rounds: int) -> int:
        """Rows to draw in the next round (0: no more): at most SAMPLE_BATCH (bigger batches only
        grow the model's state, a key-value cache copied as rows finish, past the CPU's caches);
        in rounds, twice what is wanted, at most MAX_ROUNDS of them; with exact, what the share
        found so far says is needed, within the tries left."""
        if request.exact:
            share = found / tries if found else 0.5 if not tries else 1 / SAMPLE_BATCH
            return max(0, min(SAMPLE_BATCH, request.tries - tries, max(64, math.ceil(1.2 * want / share))))
        if rounds >= MAX_ROUNDS + request.num // SAMPLE_BATCH:
            return 0
        return min(SAMPLE_BATCH, max(64, 2 * want) if request.rounds else want)

    def text_stream(self, request: SampleRequest, on_text):
        """A callback for `generate` that hands `on_text` the text each new token adds (the
        prefix first), or None."""
        if on_text is None:
            return None
        ids = list(request.prefix_ids)
        shown = [self.source.decode(ids)]
        on_text(shown[0])

        def on_token(token: int) -> None:
            ids.append(token)
            text = self.source.decode(ids)
            on_text(text[len(shown[0]):])
            shown[0] = text

        return on_token

    def samples_of(self, sequences: list[list[int]]) -> list[Sample]:
        """Generated token sequences as text, each marked with its novelty."""
        texts = [self.source.decode(ids) for ids in sequences]
        return [Sample(text, self.source.novelty(text)) for text in texts]

    def score(self, items: list[str]) -> list[Score]:
        """Log-probability of each whole item (end token included), and per token."""
        encoded = [self.source.encode(item, f"the item {item!r}") for item in items]
        logprobs = self.logprobs(lambda width: self.source.sequence_windows(encoded, width)).tolist()
        ends = [BOUNDARY_ID] if self.source.ends else []  # a stream model never predicts an end
        scores, at = [], 0
        for item, ids in zip(items, encoded, strict=True):
            ids = ids + ends
            lps = logprobs[at:at + len(ids)]
            at += len(ids)
            tokens = [(self.vocab.token_str(i), lp) for i, lp in zip(ids, lps, strict=True)]
            scores.append(Score(item, sum(lps), tokens))
        return scores

    def evaluate(self, split: str = "dev", path: str | Path | None = None) -> EvalResult:
        """Loss on a split of the run's data, or on the items of a file (and bits per
        character, where the data counts its characters)."""
        result = self.predictor.evaluate(lambda width: self.windows(split, path, width))
        result.chars = self.source.file_chars(path) if path is not None else self.source.chars(split)
        return result

    def windows(self, split: str = "dev", path: str | Path | None = None, width: int | None = None):
        """The examples of a split of the run's data, or of a file, contexts of the model's
        block size (or `width`)."""
        width = width or self.predictor.block_size
        if path is not None:
            windows, source = self.source.file_windows(path, width), path
        elif split in ("train", "dev", "test"):
            windows, source = self.spec.windows(split, width), f"the {split} split"
        else:
            raise NnlmError.about("split", "--split", f"must be train, dev or test, got {split!r}")
        if not len(windows):
            raise NnlmError(f"{source} has no items to evaluate")
        return windows


def load(run_dir: str | Path, device: str = "auto", weights: str = "best", mix: bool = True) -> LanguageModel:
    """A trained run, ready to sample, score and evaluate.

    Args:
        run_dir: the run directory `nnlm train` wrote.
        device: "auto" (CUDA, else Apple MPS, else the CPU) or a device torch names ("cpu", "cuda"...).
        weights: "best" (best on dev, model.safetensors) or "last" (the checkpoint).
        mix: use the run's n-gram mixture where it has one (with the best weights only).

    Returns:
        The run's LanguageModel.

    Raises:
        NnlmError: not a run directory, or one whose files are missing, changed or unreadable.
    """
    return LanguageModel.load(run_dir, device=device, weights=weights, mix=mix)
