"""The Python API: a trained model loaded from its run directory.

    model = nnlm.load("runs/names")
    model.sample(5, temperature=0.8)      # [Sample(text='kaylen', novelty='new'), ...]
    model.score(["emma"])                 # total and per-token log-probabilities
    model.evaluate("test")                # EvalResult(loss=..., tokens=...)
"""

from __future__ import annotations

import secrets
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
from .sample import MAX_SEED, SampleRequest, generate

MAX_ROUNDS = 100  # sampling rounds for --unique/--new-only before giving up
SAMPLE_BATCH = 8192  # rows generated together


@dataclass
class Sample:
    text: str
    novelty: str | None  # "new", or the split it appears in: "train", "dev" or "test"; None: the
    # run keeps no list of its items to compare with (running text, words)


@dataclass
class Score:
    text: str
    logprob: float  # natural log of p(item), the end token included
    tokens: list[tuple[str, float]]  # (token, log p) for each token, then the end

    def to_json(self) -> dict:
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
        return self.predictor.mixture

    @property
    def device(self) -> torch.device:
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
               new_only: bool = False, on_text=None) -> list[Sample]:
        """`num` samples; with unique/new_only, draws more rounds until it has `num`.
        `on_text(piece)`: the first sample's text, piece by piece as it is drawn."""
        return self.draw(SampleRequest(num=num, prefix=prefix, temperature=temperature, top_k=top_k,
                                       top_p=top_p, min_len=min_len, max_len=max_len, seed=seed,
                                       unique=unique, new_only=new_only), on_text)

    def draw(self, request: SampleRequest, on_text=None) -> list[Sample]:
        """The samples `request` asks for (fewer where the model cannot make that many unique or
        new ones in MAX_ROUNDS rounds); `on_text` as for `sample`."""
        request = request.checked(self.source)
        generator = torch.Generator(self.device)  # (torch's global generator is left as it was)
        generator.manual_seed(request.seed if request.seed is not None else secrets.randbelow(MAX_SEED))
        rounds = request.unique or request.new_only
        found, seen = [], set()
        for _ in range(MAX_ROUNDS + request.num // SAMPLE_BATCH):
            want = request.num - len(found)
            # rounds of at most SAMPLE_BATCH rows: bigger batches only grow the model's state
            # (a key-value cache is copied as rows finish) past the CPU's caches
            batch = min(SAMPLE_BATCH, max(64, 2 * want) if rounds else want)
            ids = generate(self.predictor, batch, list(request.prefix_ids), generator=generator,
                           on_token=self.text_stream(request, on_text) if not found else None,
                           **request.controls())
            for sample in self.samples_of(ids):
                if (request.unique and sample.text in seen) or (request.new_only and sample.novelty != "new"):
                    continue
                seen.add(sample.text)
                found.append(sample)
                if len(found) == request.num:
                    return found
        return found

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
            raise NnlmError(f"--split must be train, dev or test, got {split!r}")
        if not len(windows):
            raise NnlmError(f"{source} has no items to evaluate")
        return windows


def load(run_dir: str | Path, device: str = "auto", weights: str = "best", mix: bool = True) -> LanguageModel:
    return LanguageModel.load(run_dir, device=device, weights=weights, mix=mix)
