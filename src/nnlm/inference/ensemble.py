"""Several runs on the same data mixed with each other and with a Kneser-Ney model
(`nnlm eval --mix-with`, `--mix-order`): weights given, or tuned on dev by EM."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import NnlmError
from ..losses import EvalResult
from ..ngram.baseline import fit_ngram, logprobs
from ..ngram.mixture import MixResult, check_weights, mix_many, tune_weights


def targets(windows) -> torch.Tensor:
    """The next token of every example of `windows`: (N,) int64."""
    return windows.targets(torch.arange(len(windows)))


def component_logprobs(lms: list, ngram_model, name: str) -> list[np.ndarray]:
    """Each run's model's log-probabilities of the `name` split's tokens (from its predictor,
    the model alone), then the n-gram's. Runs must share the data: the same vocabulary, the
    same tokens in the same order."""
    first = lms[0].spec
    expected = targets(first.windows(name))
    out = []
    for lm in lms:
        windows = lm.spec.windows(name)
        if lm.spec.vocab != first.vocab or not torch.equal(targets(windows), expected):
            raise NnlmError(f"{lm.spec.run_dir}: not trained on the same data and vocabulary as "
                            f"{first.run_dir}, so their {name} splits cannot be mixed")
        out.append(lm.predictor.model_logprobs(windows))
    if ngram_model is not None:
        out.append(logprobs(ngram_model, first.windows(name, ngram_model.width)))
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
    ngram_model = fit_ngram(lms[0].source, order)[0] if order is not None else None
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
