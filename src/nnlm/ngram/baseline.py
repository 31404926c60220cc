"""The n-gram baseline of a data set: a Kneser-Ney (or count bigram) model fitted on the train
split, its order chosen on dev, evaluated over the same predicted tokens as the neural models."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import NnlmError
from ..losses import EvalResult
from . import counts
from .counts import METHODS
from .arpa import write_arpa

DEFAULT_SAMPLE_LEN = 50  # tokens of a sample of data with no items to take a length from
# Bounded memory on data of any size: a model is fitted on at most FIT_TOKENS training tokens
# (the first), its order chosen on at most CHOOSE_TOKENS dev tokens, and it scores a split
# SCORE_CHUNK tokens at a time.
FIT_TOKENS, CHOOSE_TOKENS, SCORE_CHUNK = 4_000_000, 1_000_000, 1 << 20


def examples(windows, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The (context, target) pairs of a windows object as numpy, X (N, block) and Y (N,): all of
    them, or the first `limit`."""
    index = torch.arange(len(windows) if limit is None else min(limit, len(windows)))
    return windows.contexts(index).numpy(), windows.targets(index).numpy()


def logprobs(model, windows) -> np.ndarray:
    """log p of every example of `windows` under an n-gram model: (N,) float64."""
    out = np.empty(len(windows))
    for start in range(0, len(windows), SCORE_CHUNK):
        index = torch.arange(start, min(start + SCORE_CHUNK, len(windows)))
        with np.errstate(divide="ignore"):
            out[start:start + len(index)] = model.logprob(windows.contexts(index).numpy(),
                                                          windows.targets(index).numpy())
    return out


def fit_ngram(data, order: int, method: str = "kn", smoothing: float = 1.0):
    """An n-gram model fitted on the train split of `data` (a data source: its `windows` and
    `id_count`); returns (model, seconds it took)."""
    check_method(method)
    counts.check_order(order)
    if method == "bigram" and order != 2:
        raise NnlmError(f"method 'bigram' is order 2, got order={order}",
                        cli=f"--method bigram is order 2, got --order {order}")
    X, Y = examples(data.windows("train", counts.context_width(order)), FIT_TOKENS)
    start = time.perf_counter()
    V = data.id_count()
    model = counts.CountBigram(V, smoothing) if method == "bigram" else counts.KneserNey(order, V)
    model.fit(X, Y)
    return model, time.perf_counter() - start


@dataclass
class OrderChoice:
    model: object  # the Kneser-Ney model of the chosen order
    order: int
    dev_losses: dict  # order -> dev loss (nats/token) of each order tried
    seconds: float  # fitting and evaluating them all


def choose_order(data, max_order: int = counts.MAX_ORDER, patience: int = 2) -> OrderChoice:
    """The Kneser-Ney model whose order (1..max_order) has the lowest dev loss, orders tried
    in turn until `patience` orders in a row do no better. Without a dev split: order 3."""
    start = time.perf_counter()
    width = counts.context_width(max_order)
    X, Y = examples(data.windows("train", width), FIT_TOKENS)  # the widest contexts once, sliced per order
    dev = data.windows("dev", width)
    if not len(dev):
        model = counts.KneserNey(3, data.id_count()).fit(X[:, -2:], Y)
        return OrderChoice(model, 3, {}, time.perf_counter() - start)
    Xd, Yd = examples(dev, CHOOSE_TOKENS)
    best, losses = None, {}
    for order in range(1, max_order + 1):
        cols = slice(width - (order - 1), width)
        model = counts.KneserNey(order, data.id_count()).fit(X[:, cols], Y)
        losses[order] = float(-model.logprob(Xd[:, cols], Yd).mean())
        if best is None or losses[order] < losses[best.order]:
            best = OrderChoice(model, order, losses, 0.0)
        elif order - best.order >= patience:
            break
    best.seconds = time.perf_counter() - start
    return best


def ngram_eval(model, windows, chars: int | None = None) -> EvalResult:
    """The loss of `model` on `windows`; `chars`: the characters they cover (for bits per char)."""
    lp = logprobs(model, windows)
    return EvalResult(loss=float(-lp.sum() / max(len(lp), 1)), tokens=len(lp), chars=chars)


def check_method(method: str) -> None:
    """NnlmError for a method other than kn and bigram."""
    if method not in METHODS:
        raise NnlmError.about("method", "--method", f"must be one of {', '.join(METHODS)}, got {method!r}")


def ngram_baseline(source, order: int | None = None, method: str = "kn", *, smoothing: float = 1.0,
                   arpa: str | None = None, samples: int = 0, max_len: int | None = None,
                   seed: int | None = None) -> dict:
    """The n-gram baseline of a data source (data.sources.Source): the model fitted on its train
    split (order None: Kneser-Ney of the order best on dev; the count bigram is order 2), its
    dev and test losses over the same tokens as the neural models', and, as asked, an ARPA
    file and samples. Returns the report `nnlm ngram` prints (or --json)."""
    check_method(method)
    choice = choose_order(source) if order is None and method == "kn" else None
    if choice is not None:
        model, order, seconds = choice.model, choice.order, choice.seconds
    else:
        order = order or 2
        model, seconds = fit_ngram(source, order, method, smoothing)
    report = {"method": method, "order": order, "vocab_size": source.id_count(),
              "ngrams": model.num_ngrams(), "fit_seconds": round(seconds, 3)}
    if choice is not None:
        report["dev_loss_by_order"] = choice.dev_losses
    for name in ("dev", "test"):
        windows = source.windows(name, model.width)
        if len(windows):
            report[name] = ngram_eval(model, windows, source.chars(name)).to_json()
    if arpa:
        if method != "kn":
            raise NnlmError("arpa is for method='kn'", cli="--arpa is for --method kn")
        names = [source.token_str(i) for i in range(source.id_count())]
        report["arpa"] = {"path": arpa, "entries": write_arpa(model, arpa, names)}
    if samples:
        report["samples"] = ngram_samples(model, source, samples, max_len, seed)
    return report


def ngram_samples(model, source, num: int, max_len: int | None, seed: int | None) -> list[str]:
    """`num` samples of an n-gram model, as text; max_len None: the data's default."""
    max_len = max_len or (source.default_max_len() if source.marks_novelty else DEFAULT_SAMPLE_LEN)
    if max_len < 1:
        raise NnlmError.about("max_len", "--max-len", f"must be at least 1, got {max_len}")
    seqs = counts.sample(model, num, model.width, max_len, np.random.default_rng(seed),
                         stop_at_boundary=source.ends)
    return [source.vocab.decode(s) for s in seqs]
