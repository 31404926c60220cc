"""A loss over a set of tokens, and what it says: perplexity, bits per token."""

from __future__ import annotations

import math
from dataclasses import dataclass


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
