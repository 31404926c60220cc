"""n-gram baselines on a data set or a run, and the paper's "mix": the MLP's probabilities
interpolated with an n-gram model's, p = w p_mlp + (1 - w) p_ngram, evaluated exactly
(both are normalised over the same vocabulary, so the mixture is too)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

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


@dataclass
class OrderChoice:
    model: object  # the Kneser-Ney model of the chosen order
    order: int
    dev_losses: dict  # order -> dev loss (nats/token) of each order tried
    seconds: float  # fitting and evaluating them all


def choose_order(data, max_order: int = ngram.MAX_ORDER, patience: int = 2) -> OrderChoice:
    """The Kneser-Ney model whose order (1..max_order) has the lowest dev loss, orders tried
    in turn until `patience` orders in a row do no better. Without a dev split: order 3."""
    start = time.perf_counter()
    width = max(max_order - 1, 1)
    X, Y = examples(data.windows("train", width))  # the widest contexts once, sliced per order
    dev = data.windows("dev", width)
    if not len(dev):
        model = ngram.KneserNey(3, len(data.vocab)).fit(X[:, -2:], Y)
        return OrderChoice(model, 3, {}, time.perf_counter() - start)
    Xd, Yd = examples(dev)
    best, losses = None, {}
    for order in range(1, max_order + 1):
        cols = slice(width - (order - 1), width)
        model = ngram.KneserNey(order, len(data.vocab)).fit(X[:, cols], Y)
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


def mix_logprobs(a: np.ndarray, b: np.ndarray, weight: float) -> np.ndarray:
    """log(w e^a + (1 - w) e^b), elementwise and stable."""
    if not 0 <= weight <= 1:
        raise NnlmError(f"--mix-weight must be in [0, 1], got {weight}")
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
        """The first run's weight (the paper's two-way mix: the MLP's)."""
        return self.weights[0]

    def to_json(self) -> dict:
        return {"weight": self.weight, "tuned": self.tuned,
                "components": [{"name": n, "weight": w} for n, w in zip(self.names, self.weights,
                                                                         strict=True)],
                **{k: v.to_json() for k, v in self.results.items()}}


def check_weights(weights, n_runs: int, with_ngram: bool) -> list[float]:
    """Given weights: one per run; the n-gram model (if any) takes what is left of 1."""
    weights = [float(w) for w in weights]
    if len(weights) != n_runs:
        raise NnlmError(f"--mix-weight needs one weight per run ({n_runs}), got {len(weights)}")
    if any(not 0 <= w <= 1 for w in weights):
        raise NnlmError(f"--mix-weight must be in [0, 1], got {weights}")
    rest = 1.0 - sum(weights)
    if rest < -1e-9 or (not with_ngram and abs(rest) > 1e-6):
        raise NnlmError(f"--mix-weight: the runs' weights must sum to {'at most ' if with_ngram else ''}"
                        f"1, got {sum(weights):g}")
    return weights + [max(rest, 0.0)] if with_ngram else weights


def targets(windows) -> torch.Tensor:
    return windows.targets(torch.arange(len(windows)))


def component_logprobs(lms: list, ngram_model, name: str) -> list[np.ndarray]:
    """Each run's log-probabilities of the `name` split's tokens, then the n-gram's.
    Runs must share the data: the same vocabulary, the same tokens in the same order."""
    first = lms[0].spec
    expected = targets(first.windows(name))
    out = []
    for lm in lms:
        windows = lm.spec.windows(name)
        if lm.spec.vocab != first.vocab or not torch.equal(targets(windows), expected):
            raise NnlmError(f"{lm.spec.run_dir}: not trained on the same data and vocabulary as "
                            f"{first.run_dir}, so their {name} splits cannot be mixed")
        out.append(token_logprobs(lm.model, windows, lm.device).double().numpy())
    if ngram_model is not None:
        context = max(getattr(ngram_model, "order", 2) - 1, 1)
        out.append(ngram_model.logprob(*examples(first.windows(name, context))))
    return out


def evaluate_mix(lms, order: int | None = 3, weights=None, splits=("dev", "test")) -> MixResult:
    """Runs (an LM or a list of LMs on the same data) mixed with each other and, with an
    order, a Kneser-Ney model fitted on their train split; weights None: tuned on dev.
    A single float weight is the first run's (the paper's two-way mix)."""
    lms = list(lms) if isinstance(lms, list | tuple) else [lms]
    if order is None and len(lms) < 2:
        raise NnlmError("a mix needs an n-gram order or a second run")
    if isinstance(weights, int | float):
        weights = [weights]
    tuned = weights is None
    if not tuned:
        weights = check_weights(weights, len(lms), order is not None)
    ngram_model = fit_ngram(lms[0].spec, order)[0] if order is not None else None
    parts = {name: component_logprobs(lms, ngram_model, name)
             for name in dict.fromkeys(("dev", *splits) if tuned else splits)}
    if tuned:
        weights = tune_weights(parts["dev"]).tolist()
    results = {}
    for name in splits:
        lp = mix_many(parts[name], weights)
        results[name] = EvalResult(loss=float(-lp.mean()), tokens=len(lp))
    names = [str(lm.spec.run_dir) for lm in lms] + ([f"kneser-ney n={order}"] if order is not None else [])
    return MixResult(list(weights), names, tuned, results)


# -- a run's own predictor: its model mixed with a Kneser-Ney model ------------------------

@dataclass
class RunMixture:
    """A run's model and a Kneser-Ney model of its train split, p = w p_model + (1 - w) p_kn,
    w tuned on dev: the run's default predictor where it beats the model alone on dev."""

    ngram: ngram.KneserNey
    weight: float  # the model's share

    @property
    def width(self) -> int:
        """Context tokens the n-gram model reads."""
        return max(self.ngram.order - 1, 1)

    def logprobs(self, model_logprobs: np.ndarray, ngram_windows) -> np.ndarray:
        """The mixture's log p of each token, from the model's and the n-gram's windows."""
        kn = self.ngram.logprob(*examples(ngram_windows))
        return mix_many([np.asarray(model_logprobs, dtype=np.float64), kn], [self.weight, 1 - self.weight])


def fit_run_mixture(model, source, block_size: int, device) -> tuple[RunMixture, dict]:
    """The Kneser-Ney model of the order best on dev and the weight best on dev (EM), and a
    report: the dev losses of the model, the n-gram model and the mixture."""
    choice = choose_order(source)
    mixture = RunMixture(choice.model, 0.0)
    dev_model = token_logprobs(model, source.windows("dev", block_size), device).double().numpy()
    dev_kn = choice.model.logprob(*examples(source.windows("dev", mixture.width)))
    mixture.weight = float(tune_weights([dev_model, dev_kn])[0])
    mixed = mix_many([dev_model, dev_kn], [mixture.weight, 1 - mixture.weight])
    report = {"order": choice.order, "weight": mixture.weight, "fit_seconds": round(choice.seconds, 3),
              "dev_loss": {"mixture": float(-mixed.mean()), "model": float(-dev_model.mean()),
                           "ngram": float(-dev_kn.mean())},
              "ngram_dev_loss_by_order": choice.dev_losses}
    return mixture, report


class MixedModel(torch.nn.Module):
    """A model and a RunMixture's n-gram model as one model for sampling: the logits it gives
    are the mixture's log-probabilities, its state the model's and the last tokens."""

    window = True

    def __init__(self, model, mixture: RunMixture):
        super().__init__()
        self.inner, self.mixture = model, mixture
        self.config = model.config

    def _mix(self, logits: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
        p_model = torch.softmax(logits.detach().double(), -1).cpu().numpy()  # (R, V)
        p_kn = self.mixture.ngram.distributions(history.numpy())  # (R, V)
        w = self.mixture.weight
        with np.errstate(divide="ignore"):
            mixed = np.log(w * p_model + (1 - w) * p_kn)
        return torch.from_numpy(mixed).to(logits.device, torch.float32)

    def begin(self, context: torch.Tensor):
        logits, state = self.inner.begin(context)
        width = self.mixture.width
        pad = torch.zeros(context.shape[0], max(0, width - context.shape[1]), dtype=torch.long)
        history = torch.cat([pad, context.cpu()], 1)[:, -width:]  # (R, width) the n-gram's context
        return self._mix(logits, history), (state, history)

    def advance(self, state, token):
        inner, history = state
        logits, inner = self.inner.advance(inner, token)
        history = torch.cat([history[:, 1:], token.cpu().unsqueeze(1)], 1)
        return self._mix(logits, history), (inner, history)

    def keep(self, state, rows):
        inner, history = state
        return self.inner.keep(inner, rows), history[rows.cpu()]
