"""A run's predictor: its trained model and, where the run has one, its n-gram model mixed in,
p = w p_model + (1 - w) p_ngram (ngram/mixture.py does the arithmetic).

Everything that evaluates, scores or samples asks the predictor: training's final losses and
the mixture's fit, `LanguageModel` (evaluate, score, sample), the ensemble of `nnlm eval
--mix-with` and the server. It gives log-probabilities of a batch of examples, and a sampling
step with the state it carries (`begin`, `advance`, `keep`, as models/base.py's contract).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..data.windows import first_window, next_window
from ..losses import EvalResult
from ..models.base import Model
from ..ngram.baseline import logprobs as ngram_logprobs
from ..ngram.mixture import NgramSide, RunMixture, fit_ngram_side, fit_run_mixture
from .evaluate import evaluate, token_logprobs

# The examples of a split, a file or given sequences, with contexts of `width` tokens
# (the model reads its block size, the n-gram model its own width).
Examples = Callable[[int], object]


class Predictor:
    """A trained model on its device, with the run's RunMixture or None (the model alone)."""

    def __init__(self, model: Model, device: torch.device, mixture: RunMixture | None = None):
        self.model, self.device, self.mixture = model, device, mixture
        self.labelled = model.config.labels > 0  # (items read from their labels: data/windows.py)

    @classmethod
    def of(cls, model: Model) -> Predictor:
        """The model alone, on the device its weights are on."""
        return cls(model, next(model.parameters()).device)

    @property
    def block_size(self) -> int:
        """Context tokens the model reads (its block size)."""
        return self.model.config.block_size

    def describe(self, family: str) -> str:
        """What predicts: the family's model, or the mixture and its weights."""
        if self.mixture is None:
            return family
        w = self.mixture.weight
        return f"{family} {w:.2f} + Kneser-Ney order {self.mixture.ngram.order} {1 - w:.2f}"

    # -- log-probabilities -----------------------------------------------------------
    def model_logprobs(self, windows) -> np.ndarray:
        """The model's own log p of every example of `windows` (contexts of its block size):
        (N,) float64."""
        return token_logprobs(self.model, windows, self.device).double().numpy()

    def logprobs(self, examples: Examples, model_logprobs: np.ndarray | None = None) -> torch.Tensor:
        """log p of each example of `examples`, as this predictor predicts: (N,) float64.
        `model_logprobs`: the model's own, where already computed."""
        lp = torch.from_numpy(self.model_logprobs(examples(self.block_size))) if model_logprobs is None \
            else torch.from_numpy(np.asarray(model_logprobs, dtype=np.float64))
        if self.mixture is None:
            return lp
        ngram = ngram_logprobs(self.mixture.ngram, examples(self.mixture.width))
        return torch.from_numpy(self.mixture.mix(lp.numpy(), ngram))

    def evaluate(self, examples: Examples, group=None) -> EvalResult:
        """The mean loss over `examples` (with a process group: shared among the processes;
        the model alone only)."""
        if self.mixture is None:
            return evaluate(self.model, examples(self.block_size), self.device, group)
        lp = self.logprobs(examples)
        return EvalResult(loss=float(-lp.mean()), tokens=lp.numel())

    def fit_mixture(self, source, model_logprobs: Callable[[str], np.ndarray],
                    ngram: NgramSide | None = None) -> tuple[Predictor, dict] | None:
        """This model mixed with a Kneser-Ney model of `source`'s train split (order and weight
        chosen on dev), and its report (mix.json: the order, the weights, the dev and test
        losses), where that beats the model alone on dev; else None.
        `model_logprobs(split)`: the model's own log p of the split's tokens; `ngram`: the
        n-gram side where already fitted (ngram.mixture.fit_ngram_side)."""
        ngram = ngram or fit_ngram_side(source)
        mixture, report = fit_run_mixture(model_logprobs("dev"), ngram)
        if not report["dev_loss"]["mixture"] < report["dev_loss"]["model"] - 1e-6:
            return None
        if ngram.test is not None:
            test = model_logprobs("test")
            lp = mixture.mix(test, ngram.test)
            report["test_loss"] = {"mixture": float(-lp.mean()), "model": float(-test.mean())}
        return Predictor(self.model, self.device, mixture), report

    # -- a sampling step and the state it carries -----------------------------------------
    def begin(self, context: torch.Tensor) -> tuple[torch.Tensor, object]:
        """context (R, T): ids so far, boundary first -> logits (R, V) of the next token (the
        mixture's log-probabilities), and the state `advance` continues from."""
        logits, state = self.model.begin(context)
        if self.mixture is None:
            return logits, state
        # (R, width) the n-gram's context, read as its windows read it (data/windows.py)
        history = first_window(context.cpu(), self.mixture.width, self.labelled)
        return self._mixed(logits, history), (state, history)

    def advance(self, state, token: torch.Tensor) -> tuple[torch.Tensor, object]:
        """Append token (R,) to each row: the next token's logits and the new state."""
        if self.mixture is None:
            return self.model.advance(state, token)
        inner, history = state
        logits, inner = self.model.advance(inner, token)
        history = next_window(history, token.cpu(), self.labelled)
        return self._mixed(logits, history), (inner, history)

    def keep(self, state, rows: torch.Tensor):
        """The state of the rows `rows` (a bool mask or indices) only."""
        if self.mixture is None:
            return self.model.keep(state, rows)
        inner, history = state
        return self.model.keep(inner, rows), history[rows.cpu()]

    def _mixed(self, logits: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
        """The model's logits (R, V) and the n-gram's contexts (R, width) -> the mixture's log p."""
        p_model = torch.softmax(logits.detach().double(), -1).cpu().numpy()  # (R, V)
        mixed = self.mixture.mix_distributions(p_model, history.numpy())
        return torch.from_numpy(mixed).to(logits.device, torch.float32)
