"""The Python API: a trained model loaded from its run directory.

    model = nnlm.load("runs/names")
    model.sample(5, temperature=0.8)      # [Sample(text='kaylen', source='new'), ...]
    model.score(["emma"])                 # total and per-token log-probabilities
    model.evaluate("test")                # EvalResult(loss=..., tokens=...)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from . import checkpoint as ckpt
from .data import BOUNDARY_ID, Windows, read_items, read_text
from .errors import NnlmError
from .evaluate import EvalResult, evaluate, token_logprobs
from .model import build_model
from .rundir import RunSpec, load_spec
from .runtime import resolve_device
from .sample import check_controls, generate
from .words import StreamWindows

MAX_ROUNDS = 100  # sampling rounds for --unique/--new-only before giving up


@dataclass
class Sample:
    text: str
    source: str  # "new", or the split it appears in: "train", "dev" or "test"; word level: "-"


@dataclass
class Score:
    text: str
    logprob: float  # natural log of p(item), the end token included
    tokens: list[tuple[str, float]]  # (token, log p) for each character, then the end

    def to_json(self) -> dict:
        return {"item": self.text, "logprob": self.logprob,
                "tokens": [{"token": t, "logprob": lp} for t, lp in self.tokens]}


class LanguageModel:
    def __init__(self, model, spec: RunSpec, device: torch.device):
        self.model, self.spec, self.device = model.eval(), spec, device
        self.vocab = spec.vocab
        self.word_level = spec.word_level
        self.stream = self.word_level and spec.data.word_mode == "stream"
        self._sources = {}
        for name in ("test", "dev", "train") if spec.split else ():  # train wins over dev, test
            self._sources.update(dict.fromkeys(getattr(spec.split, name), name))

    @classmethod
    def load(cls, run_dir: str | Path, device: str = "auto", weights: str = "best") -> LanguageModel:
        """weights: "best" (best on dev, model.safetensors) or "last" (the checkpoint)."""
        spec = load_spec(run_dir)
        model = build_model(spec.model)
        if weights == "best":
            path = spec.run_dir / ckpt.MODEL
            tensors, _ = ckpt.load_tensors(path)
        elif weights == "last":
            path = spec.run_dir / ckpt.CHECKPOINT
            all_tensors, _ = ckpt.load_tensors(path)
            tensors = {k[6:]: v for k, v in all_tensors.items() if k.startswith("model.")}
        else:
            raise NnlmError(f"weights must be 'best' or 'last', got {weights!r}")
        ckpt.check_state_dict(path, tensors, model)
        model.load_state_dict(tensors)
        device = resolve_device(device)
        return cls(model.to(device), spec, device)

    def source(self, text: str) -> str:
        return "-" if self.word_level else self._sources.get(text, "new")

    def default_max_len(self) -> int:
        if self.word_level:
            return 50  # words
        return max(32, 2 * max(map(len, self.spec.split.train)))

    def sample(self, num: int = 10, *, temperature: float = 1.0, top_k: int | None = None,
               top_p: float | None = None, prefix: str = "", min_len: int = 0,
               max_len: int | None = None, seed: int | None = None, unique: bool = False,
               new_only: bool = False) -> list[Sample]:
        """`num` samples; with unique/new_only, draws more rounds until it has `num`."""
        if num < 1:
            raise NnlmError(f"--num must be at least 1, got {num}")
        max_len = max_len or self.default_max_len()
        if self.word_level and new_only:
            raise NnlmError("--new-only is for character-level runs (a word-level run keeps no "
                            "list of training sentences)")
        if self.stream:  # a stream has no end: every sample is max_len words
            min_len = max_len
        check_controls(temperature, top_k, top_p, min_len, max_len)
        prefix_ids = self.vocab.encode(prefix, "the prefix")
        generator = torch.Generator(self.device)
        generator.manual_seed(seed if seed is not None else torch.seed())
        found, seen = [], set()
        for _ in range(MAX_ROUNDS):
            want = num - len(found)
            batch = want if not (unique or new_only) else max(64, 2 * want)
            for ids in generate(self.model, batch, prefix_ids, temperature=temperature,
                                top_k=top_k, top_p=top_p, min_len=min_len, max_len=max_len,
                                generator=generator):
                text = self.vocab.decode(ids)
                if (unique and text in seen) or (new_only and self.source(text) != "new"):
                    continue
                seen.add(text)
                found.append(Sample(text, self.source(text)))
                if len(found) == num:
                    return found
        return found  # the model cannot produce `num` distinct/new items: fewer

    def score(self, items: list[str]) -> list[Score]:
        """Log-probability of each whole item (end token included), and per token."""
        encoded = [self.vocab.encode(item, f"the item {item!r}") for item in items]
        ends = [] if self.stream else [BOUNDARY_ID]  # a stream model never predicts an end
        if self.stream:
            logprobs = [lp for ids in encoded for lp in token_logprobs(
                self.model, StreamWindows(torch.tensor(ids), self.spec.model.block_size),
                self.device).tolist()]
        else:
            windows = Windows(items, self.vocab, self.spec.model.block_size)
            logprobs = token_logprobs(self.model, windows, self.device).tolist()
        scores, at = [], 0
        for item, ids in zip(items, encoded, strict=True):
            ids = ids + ends
            lps = logprobs[at:at + len(ids)]
            at += len(ids)
            tokens = [(self.vocab.token_str(i), lp) for i, lp in zip(ids, lps, strict=True)]
            scores.append(Score(item, sum(lps), tokens))
        return scores

    def evaluate(self, split: str = "dev", path: str | Path | None = None) -> EvalResult:
        """Loss on a split of the run's data, or on the items of a file."""
        windows = self.windows(split, path)
        return evaluate(self.model, windows, self.device)

    def windows(self, split: str = "dev", path: str | Path | None = None):
        """The examples of a split of the run's data, or of a file, for this model."""
        block = self.spec.model.block_size
        if path is not None and self.stream:
            windows, source = StreamWindows(torch.tensor(self.vocab.encode(read_text(path))), block), path
        elif path is not None:
            windows, source = Windows(read_items(path), self.vocab, block, source=str(path)), path
        elif split in ("train", "dev", "test"):
            windows, source = self.spec.windows(split), f"the {split} split"
        else:
            raise NnlmError(f"--split must be train, dev or test, got {split!r}")
        if not len(windows):
            raise NnlmError(f"{source} has no items to evaluate")
        return windows


def load(run_dir: str | Path, device: str = "auto", weights: str = "best") -> LanguageModel:
    return LanguageModel.load(run_dir, device=device, weights=weights)
