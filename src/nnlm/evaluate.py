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
def token_logprobs(model, windows: Windows, device, index: torch.Tensor | None = None):
    """log p(token | context) for the examples `index` (default all) of `windows`, on the CPU."""
    was_training = model.training
    model.eval()
    index = torch.arange(len(windows)) if index is None else index
    out = []
    chunk_size = max(1, min(CHUNK, CHUNK_LOGITS // model.config.vocab_size))
    for i in range(0, len(index), chunk_size):
        chunk = index[i:i + chunk_size]
        x, y = windows.contexts(chunk).to(device), windows.targets(chunk).to(device)
        logits, _ = model(x)
        # log_softmax + gather, not cross_entropy(reduction="none"): measured here, the latter's
        # peak memory grew with every chunk (~70 KB per token at |V| = 18k)
        lp = torch.log_softmax(logits.float(), dim=-1).gather(1, y.unsqueeze(1)).squeeze(1)
        out.append(lp.cpu().clone())
    model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0)


def evaluate(model, windows: Windows, device, group=None) -> EvalResult:
    """Mean NLL over all of `windows`. With a process group, each rank scores every
    world-th example and the sums (not the means of unequal shards) are all-reduced."""
    rank, world = (group.rank, group.world) if group is not None else (0, 1)
    logprobs = token_logprobs(model, windows, device, torch.arange(rank, len(windows), world))
    totals = torch.tensor([-logprobs.double().sum().item(), logprobs.numel()], dtype=torch.float64)
    if group is not None:
        group.all_reduce_sum(totals)
    n = int(totals[1])
    return EvalResult(loss=float(totals[0] / max(n, 1)), tokens=n)
