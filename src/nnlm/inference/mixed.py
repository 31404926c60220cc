"""A run's model and its Kneser-Ney model as one model: the run's predictor."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..models.base import Model
from ..ngram.mixture import RunMixture


class MixedModel(Model):
    """A model and a RunMixture's n-gram model as one model, p = w p_model + (1 - w) p_kn: the
    logits it gives are the mixture's log-probabilities. It keeps the contract of the model it
    wraps, a window or a sequence model (models/base.py), so whatever takes a model takes it;
    its sampling state is the model's and the n-gram model's context.

    forward gives the n-gram model the ids it is given as context (before a sequence's first
    position: the boundary), so a window model's window must be as wide as the n-gram's
    context for the exact mixture; LanguageModel evaluates with the n-gram's own windows."""

    def __init__(self, model: Model, mixture: RunMixture):
        super().__init__()
        self.inner, self.mixture = model, mixture
        self.config, self.window = model.config, model.window
        self.carries_state = False  # its n-gram model reads the ids of each call alone

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """idx (B, block_size) -> (B, V), or (B, T) -> (B, T, V): the mixture's log-probabilities."""
        logits, _ = self.inner(idx)
        width = self.mixture.width
        if self.window:
            history = F.pad(idx, (max(0, width - idx.shape[1]), 0))[:, -width:]  # (B, width)
        else:
            padded = F.pad(idx, (width - 1, 0))  # (B, width - 1 + T): the boundary before the start
            history = padded.unfold(1, width, 1).flatten(0, 1)  # (B * T, width), one row per position
        mixed = self._mix(logits.flatten(0, -2), history.cpu()).view_as(logits)
        return mixed, self.loss(mixed, targets)

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
