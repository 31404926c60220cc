"""The n-gram baseline of a data set: a Kneser-Ney (or count bigram) model fitted on the train
split, its order chosen on dev, evaluated over the same predicted tokens as the neural models."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..errors import NnlmError
from ..losses import EvalResult
from . import counts

METHODS = ("kn", "bigram")


def examples(windows) -> tuple[np.ndarray, np.ndarray]:
    """All (context, target) pairs of a windows object as numpy: X (N, block), Y (N,)."""
    X, Y = windows.tensors()
    return X.numpy(), Y.numpy()


def fit_ngram(data, order: int, method: str = "kn", smoothing: float = 1.0):
    """An n-gram model fitted on the train split of `data` (a DataSet or RunSpec);
    returns (model, seconds it took)."""
    if method not in METHODS:
        raise NnlmError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    counts.check_order(order)
    if method == "bigram" and order != 2:
        raise NnlmError(f"--method bigram is order 2, got --order {order}")
    X, Y = examples(data.windows("train", max(order - 1, 1)))
    start = time.perf_counter()
    V = len(data.vocab)
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
    width = max(max_order - 1, 1)
    X, Y = examples(data.windows("train", width))  # the widest contexts once, sliced per order
    dev = data.windows("dev", width)
    if not len(dev):
        model = counts.KneserNey(3, len(data.vocab)).fit(X[:, -2:], Y)
        return OrderChoice(model, 3, {}, time.perf_counter() - start)
    Xd, Yd = examples(dev)
    best, losses = None, {}
    for order in range(1, max_order + 1):
        cols = slice(width - (order - 1), width)
        model = counts.KneserNey(order, len(data.vocab)).fit(X[:, cols], Y)
        losses[order] = float(-model.logprob(Xd[:, cols], Yd).mean())
        if best is None or losses[order] < losses[best.order]:
            best = OrderChoice(model, order, losses, 0.0)
        elif order - best.order >= patience:
            break
    best.seconds = time.perf_counter() - start
    return best


def ngram_eval(model, windows) -> EvalResult:
    X, Y = examples(windows)
    with np.errstate(divide="ignore"):
        lp = model.logprob(X, Y)
    return EvalResult(loss=float(-lp.sum() / max(len(lp), 1)), tokens=len(lp))
