"""A run's model and its Kneser-Ney model as one predictor for sampling."""

from __future__ import annotations

import numpy as np
import torch

from ..ngram.mixture import RunMixture


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
