"""n-gram baselines on a data set or a run, and the paper's "mix": the MLP's probabilities
interpolated with an n-gram model's, p = w p_mlp + (1 - w) p_ngram, evaluated exactly
(both are normalised over the same vocabulary, so the mixture is too)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from . import ngram
from .errors import NnlmError
from .evaluate import EvalResult, token_logprobs

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
    ngram.check_order(order)
    if method == "bigram" and order != 2:
        raise NnlmError(f"--method bigram is order 2, got --order {order}")
    X, Y = examples(data.windows("train", max(order - 1, 1)))
    start = time.perf_counter()
    V = len(data.vocab)
    model = ngram.CountBigram(V, smoothing) if method == "bigram" else ngram.KneserNey(order, V)
    model.fit(X, Y)
    return model, time.perf_counter() - start


def ngram_eval(model, windows) -> EvalResult:
    X, Y = examples(windows)
    with np.errstate(divide="ignore"):
        lp = model.logprob(X, Y)
    return EvalResult(loss=float(-lp.sum() / max(len(lp), 1)), tokens=len(lp))


def mix_logprobs(a: np.ndarray, b: np.ndarray, weight: float) -> np.ndarray:
    """log(w e^a + (1 - w) e^b), elementwise and stable."""
    if not 0 <= weight <= 1:
        raise NnlmError(f"--mix-weight must be in [0, 1], got {weight}")
    if weight in (0.0, 1.0):
        return np.array(a if weight == 1 else b, dtype=np.float64)
    return np.logaddexp(math.log(weight) + a, math.log1p(-weight) + b)


def tune_weight(a: np.ndarray, b: np.ndarray, tol: float = 1e-4) -> float:
    """The w in [0, 1] minimising the mixture's loss: a golden-section search (the loss,
    -mean log(w p + (1 - w) q), is convex in w)."""
    lo, hi = 0.0, 1.0
    g = (math.sqrt(5) - 1) / 2
    def loss(w: float) -> float:
        return -float(mix_logprobs(a, b, w).mean())

    x1, x2 = hi - g * (hi - lo), lo + g * (hi - lo)
    f1, f2 = loss(x1), loss(x2)
    while hi - lo > tol:
        if f1 < f2:
            hi, x2, f2 = x2, x1, f1
            x1 = hi - g * (hi - lo)
            f1 = loss(x1)
        else:
            lo, x1, f1 = x1, x2, f2
            x2 = lo + g * (hi - lo)
            f2 = loss(x2)
    best = (lo + hi) / 2
    return min((best, 0.0, 1.0), key=loss)


@dataclass
class MixResult:
    weight: float  # of the MLP
    tuned: bool  # weight chosen on the dev split
    results: dict  # split -> EvalResult of the mixture

    def to_json(self) -> dict:
        return {"weight": self.weight, "tuned": self.tuned,
                **{k: v.to_json() for k, v in self.results.items()}}


def evaluate_mix(lm, order: int = 3, weight: float | None = None,
                 splits=("dev", "test")) -> MixResult:
    """The run's MLP mixed with a Kneser-Ney model of `order` fitted on the run's train
    split; weight None tunes it on dev."""
    model, _ = fit_ngram(lm.spec, order)
    pairs = {}
    for name in dict.fromkeys(("dev", *splits) if weight is None else splits):
        mlp = token_logprobs(lm.model, lm.spec.windows(name), lm.device).double().numpy()
        X, Y = examples(lm.spec.windows(name, max(order - 1, 1)))
        pairs[name] = (mlp, model.logprob(X, Y))
    tuned = weight is None
    if tuned:
        weight = tune_weight(*pairs["dev"])
    results = {}
    for name in splits:
        lp = mix_logprobs(*pairs[name], weight)
        results[name] = EvalResult(loss=float(-lp.mean()), tokens=len(lp))
    return MixResult(weight, tuned, results)
