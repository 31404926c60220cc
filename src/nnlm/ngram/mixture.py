"""The paper's "mix": a model's probabilities interpolated with others', p = sum_k w_k p_k,
evaluated exactly (all are normalised over the same vocabulary, so the mixture is too), the
weights tuned on dev by EM; and a run's own mixture of its model with a Kneser-Ney model."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from ..errors import NnlmError
from .baseline import OrderChoice, choose_order, logprobs
from .counts import KneserNey


def mix_logprobs(a: np.ndarray, b: np.ndarray, weight: float) -> np.ndarray:
    """log(w e^a + (1 - w) e^b), elementwise and stable."""
    if not 0 <= weight <= 1:
        raise NnlmError.about("weight", "--mix-weight", f"must be in [0, 1], got {weight}")
    return mix_many([a, b], [weight, 1.0 - weight])


def mix_many(logprobs: list[np.ndarray], weights) -> np.ndarray:
    """log(sum_k w_k e^(a_k)), elementwise and stable; components of weight 0 drop out
    (so a model that gives a token probability 0 costs nothing when unused)."""
    weights = np.asarray(weights, dtype=np.float64)
    used = [(math.log(w), np.asarray(a, dtype=np.float64)) for w, a in zip(weights, logprobs,
                                                                             strict=True) if w > 0]
    if len(used) == 1:
        return np.array(used[0][1])
    with np.errstate(divide="ignore"):
        return np.logaddexp.reduce(np.stack([lw + a for lw, a in used]), axis=0)


def tune_weight(a: np.ndarray, b: np.ndarray) -> float:
    """The w in [0, 1] minimising the loss of w p_a + (1 - w) p_b (see tune_weights)."""
    return float(tune_weights([a, b])[0])


def tune_weights(logprobs: list[np.ndarray], tol: float = 1e-9, max_iter: int = 5000) -> np.ndarray:
    """The mixture weights (on the simplex) minimising -mean log sum_k w_k p_k: expectation-
    maximisation, as SRILM's compute-best-mix. The loss is convex in w, so EM's fixed point
    is the optimum; each step can only lower the loss, and it stops when a step gains < tol."""
    lp = np.stack([np.asarray(a, dtype=np.float64) for a in logprobs])  # (K, N)
    P = np.exp(lp - lp.max(axis=0))  # each token scaled by its best component: no underflow
    w = np.full(len(P), 1.0 / len(P))
    loss = math.inf
    for _ in range(max_iter):
        total = w @ P  # (N,) the mixture's probability of each token
        new_loss = -float(np.log(total).mean())
        if loss - new_loss < tol:
            break
        loss = new_loss
        w = w * (P / total).mean(axis=1)  # mean posterior responsibility of each component
    return w / w.sum()


@dataclass
class MixResult:
    weights: list[float]  # one per component, in `names` order; they sum to 1
    names: list[str]  # the runs, then the n-gram model (if any)
    tuned: bool  # weights chosen on the dev split
    results: dict  # split -> EvalResult of the mixture

    @property
    def weight(self) -> float:
        """The first run's weight (the paper's two-way mix: the model's)."""
        return self.weights[0]

    def to_json(self) -> dict:
        """The mix as JSON: the weights by component and each split's result."""
        return {"weight": self.weight, "tuned": self.tuned,
                "components": [{"name": n, "weight": w} for n, w in zip(self.names, self.weights,
                                                                         strict=True)],
                **{k: v.to_json() for k, v in self.results.items()}}


def check_weights(weights, n_runs: int, with_ngram: bool) -> list[float]:
    """Given weights: one per run; the n-gram model (if any) takes what is left of 1."""
    weights = [float(w) for w in weights]
    if len(weights) != n_runs:
        raise NnlmError.about("weights", "--mix-weight",
                              f"needs one weight per run ({n_runs}), got {len(weights)}")
    if any(not 0 <= w <= 1 for w in weights):
        raise NnlmError.about("weights", "--mix-weight", f"must be in [0, 1], got {weights}")
    rest = 1.0 - sum(weights)
    if rest < -1e-9 or (not with_ngram and abs(rest) > 1e-6):
        most = "at most " if with_ngram else ""
        raise NnlmError.about("weights", "--mix-weight", f"of the runs must sum to {most}1, got "
                              f"{sum(weights):g}")
    return weights + [max(rest, 0.0)] if with_ngram else weights


# -- a run's own mixture: its model and a Kneser-Ney model -------------------------------

@dataclass
class RunMixture:
    """A run's model and a Kneser-Ney model of its train split, p = w p_model + (1 - w) p_kn,
    w tuned on dev: part of the run's predictor (inference/predictor.py) where it beats the
    model alone on dev. The only place where the two models' probabilities are mixed."""

    ngram: KneserNey
    weight: float  # the model's share

    @property
    def width(self) -> int:
        """Context tokens the n-gram model reads."""
        return self.ngram.width

    def mix(self, model_logprobs: np.ndarray, ngram_logprobs: np.ndarray) -> np.ndarray:
        """The mixture's log p of each token (N,), from the model's and the n-gram model's."""
        return mix_many([np.asarray(model_logprobs, dtype=np.float64), ngram_logprobs],
                        [self.weight, 1 - self.weight])

    def mix_distributions(self, p_model: np.ndarray, history: np.ndarray) -> np.ndarray:
        """The mixture's log p of every token after each row: p_model (R, V) the model's
        probabilities (float64), history (R, width) the ids before, boundary-padded."""
        p_kn = self.ngram.distributions(history)  # (R, V)
        w = self.weight
        with np.errstate(divide="ignore"):
            return np.log(w * p_model + (1 - w) * p_kn)


@dataclass
class NgramSide:
    """The n-gram half of a run's mixture, which needs no model, so training fits it before
    its loop (its time then counts in the run's budget): the Kneser-Ney model of the order best
    on dev, and its log p of every dev and test token (test: None where there is none)."""

    choice: OrderChoice
    dev: np.ndarray
    test: np.ndarray | None
    seconds: float  # fitting the models and scoring dev and test


def fit_ngram_side(source) -> NgramSide:
    """The NgramSide of a data source with a dev split."""
    start = time.perf_counter()
    choice = choose_order(source)
    test = source.windows("test", choice.model.width)
    return NgramSide(choice, logprobs(choice.model, source.windows("dev", choice.model.width)),
                     logprobs(choice.model, test) if len(test) else None, time.perf_counter() - start)


def fit_run_mixture(dev_model: np.ndarray, ngram: NgramSide) -> tuple[RunMixture, dict]:
    """Given the model's log p of each dev token (N,) and the n-gram side: the weight best on dev
    (EM), and a report: the dev losses of the model, the n-gram model and the mixture."""
    choice, dev_kn = ngram.choice, ngram.dev
    mixture = RunMixture(choice.model, 0.0)
    mixture.weight = float(tune_weights([dev_model, dev_kn])[0])
    mixed = mixture.mix(dev_model, dev_kn)
    report = {"order": choice.order, "weight": mixture.weight, "fit_seconds": round(choice.seconds, 3),
              "dev_loss": {"mixture": float(-mixed.mean()), "model": float(-dev_model.mean()),
                           "ngram": float(-dev_kn.mean())},
              "ngram_dev_loss_by_order": choice.dev_losses}
    return mixture, report
