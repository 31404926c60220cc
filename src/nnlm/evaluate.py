"""Loss and per-token log-probabilities of a model over a set of windows."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .data import Windows

CHUNK = 65_536  # examples per forward pass: bounds memory on big evaluation sets
CHUNK_LOGITS = 2**23  # and at most this many logits at once (big vocabularies: cache-sized)


@dataclass
class EvalResult:
    loss: float  # mean negative log-likelihood, nats per token
    tokens: int

    @property
    def perplexity(self) -> float:
        return math.exp(self.loss)

    @property
    def bits(self) -> float:
        return self.loss / math.log(2)

    def to_json(self) -> dict:
        return {"loss": self.loss, "perplexity": self.perplexity, "bits_per_token": self.bits,
                "tokens": self.tokens}


@torch.no_grad()
def token_logprobs(model, windows: Windows, device) -> torch.Tensor:
    """log p(token | context) for every example of `windows`, (N,) on the CPU."""
    was_training = model.training
    model.eval()
    out = []
    chunk = max(1, min(CHUNK, CHUNK_LOGITS // model.config.vocab_size))
    for i in range(0, len(windows), chunk):
        index = torch.arange(i, min(i + chunk, len(windows)))
        x, y = windows.contexts(index).to(device), windows.targets(index).to(device)
        logits, _ = model(x)
        # log_softmax + gather, not cross_entropy(reduction="none"): measured here, the latter's
        # peak memory grew with every chunk (~70 KB per token at |V| = 18k)
        lp = torch.log_softmax(logits.float(), dim=-1).gather(1, y.unsqueeze(1)).squeeze(1)
        out.append(lp.cpu().clone())
    model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0)


def evaluate(model, windows: Windows, device) -> EvalResult:
    logprobs = token_logprobs(model, windows, device)
    n = logprobs.numel()
    return EvalResult(loss=float(-logprobs.double().sum() / max(n, 1)), tokens=n)
