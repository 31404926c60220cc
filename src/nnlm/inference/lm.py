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

from ..data.items import item_chars
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
    """A sample: its text, where it already appears, and (a labelled run) its label."""

    text: str
    novelty: str | None  # "new", or the split it appears in: "train", "dev" or "test"; None: the
    # run keeps no list of its items to compare with (running text, words)
    label: str | None = None  # a labelled run: the label the sample was drawn for


class Samples(list):
    """The samples a request drew (a list of Sample), and `tries`: the samples drawn in all, those
    that failed a test included (with exact, unique, new_only or exclude, those drawn again)."""

    tries: int = 0


@dataclass
class Classification:
    """The label a labelled run finds likeliest for an item: p(label | item), by Bayes from
    p(item | label), the model's, and each label's share of the training items."""

    item: str
    label: str
    posterior: dict[str, float]  # label -> p(label | item)

    def to_json(self) -> dict:
        """As `nnlm classify --json` writes it: item, label and the whole posterior."""
        return {"item": self.item, "label": self.label, "posterior": self.posterior}


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
        # the summary's dev and test losses are the mixture's where training chose one; a run
        # loaded with mix=False shows the model's alone (kept beside them as model_*)
        alone = "model_" if self.mixture is None and "model_dev_loss" in summary else ""
        keys = (("train", "train_loss"), ("dev", alone + "dev_loss"), ("test", alone + "test_loss"))
        losses = ", ".join(f"{k} {summary[key]:.4f}" for k, key in keys if summary.get(key) is not None)
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
               exact: bool = False, tries: int | None = None, label: str = "", on_text=None) -> Samples:
        """`num` samples; with unique/new_only/exclude/exact, draws more rounds until it has `num`.
        The constraints (regex, contains, suffix, min_chars, max_chars: what each sample's text,
        the prefix included, must be; exclude: a file of items, or the items, no sample may be)
        steer each sample token by token, or with `exact`, samples are drawn whole from the model
        and those that fail are drawn again (at most `tries`; the result's `tries` says how many
        were). `label`: a labelled run's samples of that label (default: across the labels, in
        their shares; each Sample says its label). `on_text(piece)`: the first sample's text,
        piece by piece as it is drawn.
        Raises SettingError (an NnlmError) for a control it cannot take, an impossible
        constraint, or one too rare for `exact`."""
        files = isinstance(exclude, (str, Path))
        return self.draw(SampleRequest(num=num, prefix=prefix, temperature=temperature, top_k=top_k,
                                       top_p=top_p, min_len=min_len, max_len=max_len, seed=seed,
                                       unique=unique, new_only=new_only, regex=regex, contains=contains,
                                       suffix=suffix, min_chars=min_chars, max_chars=max_chars,
                                       exclude=str(exclude) if files else "", exact=exact, tries=tries,
                                       exclude_items=() if files else tuple(exclude), label=label), on_text)

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
            starts = self.label_starts(request, batch, generator)
            rows = generate(self.predictor, batch, list(request.prefix_ids), generator=generator,
                            on_token=stream, starts=starts, **request.controls())
            rounds += 1
            if self.keep(request, rows, found, seen, excluded, starts):
                break
        if request.exact and not found:
            raise too_rare(found.tries)
        if request.exact and on_text is not None:
            on_text(found[0].text)
        return found

    def label_starts(self, request: SampleRequest, rows: int, generator: torch.Generator
                     ) -> torch.Tensor | None:
        """Each row's first token in a labelled run (rows,): the label asked for, or labels drawn
        in their shares of the training items (from `generator`, before the samples, so a seed
        gives the same labels and samples); None in a run without labels."""
        if not self.source.labels:
            return None
        if request.label_id is not None:
            return torch.full((rows,), request.label_id, dtype=torch.long)
        shares = self.label_shares()
        # (drawn on the CPU, from a seed the request's generator gives, which may be a GPU's)
        seed = int(torch.randint(2**62, (1,), generator=generator, device=generator.device))
        cpu = torch.Generator().manual_seed(seed)
        return torch.multinomial(shares, rows, replacement=True, generator=cpu) + len(self.vocab)

    def label_shares(self) -> torch.Tensor:
        """Each label's share of the training items (labels,) float64: the prior of sampling
        across labels and of classify."""
        counts = torch.bincount(torch.tensor(self.source.item_labels["train"]),
                                minlength=len(self.source.labels)).double()
        return counts / counts.sum()

    def keep(self, request: SampleRequest, rows: list, found: Samples, seen: set, excluded: set,
             starts: torch.Tensor | None = None) -> bool:
        """Add to `found` the samples of `rows` (generate's, None: failed the constraint) that pass
        the request's tests (unique: not in `seen`; new_only; not `excluded`), counting the rows
        tried; whether it now has all it asked for. `starts`: the rows' label tokens."""
        for k, seq in enumerate(rows):
            labels = None if starts is None else [int(starts[k])]
            sample = self.samples_of([seq], labels)[0] if seq is not None else None
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

    def samples_of(self, sequences: list[list[int]], starts: list[int] | None = None) -> list[Sample]:
        """Generated token sequences as text, each marked with its novelty (and, `starts` being
        their label tokens, their label)."""
        texts = [self.source.decode(ids) for ids in sequences]
        labels = [self.source.labels[i - len(self.vocab)] for i in starts] if starts else [None] * len(texts)
        return [Sample(text, self.source.novelty(text), label)
                for text, label in zip(texts, labels, strict=True)]

    def encoded(self, items: list[str]) -> list[list[int]]:
        """Each item's token ids (NnlmError naming an item the run cannot read)."""
        return [self.source.encode(item, f"the item {item!r}") for item in items]

    def score(self, items: list[str], label: str | None = None) -> list[Score]:
        """Log-probability of each whole item (end token included), and per token; a labelled
        run's items under `label` (required there), p(item | label)."""
        encoded = self.encoded(items)
        starts = self.starts(len(items), label)
        logprobs = self.logprobs(lambda width: self.source.sequence_windows(encoded, width, starts)).tolist()
        ends = [BOUNDARY_ID] if self.source.ends else []  # a stream model never predicts an end
        scores, at = [], 0
        for item, ids in zip(items, encoded, strict=True):
            ids = ids + ends
            lps = logprobs[at:at + len(ids)]
            at += len(ids)
            tokens = [(self.vocab.token_str(i), lp) for i, lp in zip(ids, lps, strict=True)]
            scores.append(Score(item, sum(lps), tokens))
        return scores

    def starts(self, count: int, label: str | None) -> list[int] | None:
        """The first token of `count` items read under `label` (a labelled run: required); None
        in a run without labels (NnlmError for a label there)."""
        if not self.source.labels and not label:
            return None
        if not self.source.labels:
            raise NnlmError.about("label", "--label", f"{label!r}: this run has no labels")
        if label is None:
            raise NnlmError(f"a labelled run reads an item under a label: name one (its labels are "
                            f"{', '.join(self.source.labels)})", cli="a labelled run reads an item under a "
                            f"label: name one with --label ({', '.join(self.source.labels)})")
        return [self.source.label_token(label)] * count

    def classify(self, items: list[str]) -> list[Classification]:
        """The likeliest label of each item of a labelled run, and the whole posterior: Bayes
        with p(item | label), the run's predictor's, and the labels' shares of the training
        items. NnlmError in a run without labels."""
        if not self.source.labels:
            raise NnlmError("classify needs a labelled run (one trained on several files, or a label column)")
        encoded = self.encoded(items)
        ends = 1 if self.source.ends else 0
        lengths = torch.tensor([len(ids) + ends for ids in encoded])
        owner = torch.repeat_interleave(torch.arange(len(items)), lengths)  # (tokens,) each token's item
        log_joint = torch.log(self.label_shares()).repeat(len(items), 1)  # (items, labels)
        for k, label in enumerate(self.source.labels):
            starts = self.starts(len(items), label)
            lp = self.logprobs(lambda width, s=starts: self.source.sequence_windows(encoded, width, s))
            log_joint[:, k] += torch.zeros(len(items), dtype=torch.float64).index_add_(0, owner, lp)
        posterior = torch.softmax(log_joint, dim=1)
        return [Classification(item, self.source.labels[int(p.argmax())],
                               dict(zip(self.source.labels, p.tolist(), strict=True)))
                for item, p in zip(items, posterior, strict=True)]

    def accuracy(self, split: str = "test") -> tuple[float, int]:
        """(the share of a split's items whose likeliest label is theirs, the items) of a labelled
        run (classify)."""
        items = getattr(self.source.split, split)
        if not items:
            raise NnlmError(f"the {split} split has no items to classify")
        found = self.classify(items)
        truth = [self.source.labels[k] for k in self.source.item_labels[split]]
        return sum(c.label == t for c, t in zip(found, truth, strict=True)) / len(items), len(items)

    def evaluate(self, split: str = "dev", path: str | Path | None = None, label: str | None = None
                 ) -> EvalResult:
        """Loss on a split of the run's data, or on the items of a file (a labelled run's: under
        `label`), and bits per character, where the data counts its characters; a labelled run's
        split: each label's beside (EvalResult.by_label)."""
        if self.source.labels and path is None:
            return self.evaluate_labelled(split)
        result = self.predictor.evaluate(lambda width: self.windows(split, path, width, label))
        result.chars = self.source.file_chars(path) if path is not None else self.source.chars(split)
        return result

    def evaluate_labelled(self, split: str) -> EvalResult:
        """A labelled run's split: its loss and each label's, over the same tokens."""
        lp = self.logprobs(lambda width: self.windows(split, None, width))
        windows = self.windows(split)
        label_of = windows.stream[windows.item_start].long() - len(self.vocab)  # (N,) each token's label
        groups = [[] for _ in self.source.labels]  # each label's items of the split
        for item, k in zip(getattr(self.source.split, split), self.source.item_labels[split], strict=True):
            groups[k].append(item)
        by_label = {}
        for k, label in enumerate(self.source.labels):
            own = lp[label_of == k]
            by_label[label] = EvalResult(float(-own.mean()), own.numel(), item_chars(groups[k]) or None) \
                if own.numel() else EvalResult(float("nan"), 0)
        return EvalResult(float(-lp.mean()), lp.numel(), self.source.chars(split), by_label)

    def windows(self, split: str = "dev", path: str | Path | None = None, width: int | None = None,
                label: str | None = None):
        """The examples of a split of the run's data, or of a file (a labelled run's: its items
        under `label`), contexts of the model's block size (or `width`)."""
        width = width or self.predictor.block_size
        if path is not None:
            windows = self.source.file_windows(path, width, label) if self.source.labels else \
                self.source.file_windows(path, width)
            source = path
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
