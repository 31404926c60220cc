"""A loss over a set of tokens, and what it says: perplexity, bits per token, and bits per
character of the text the tokens cover (one scale for runs whose tokens differ)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class EvalResult:
    loss: float  # mean negative log-likelihood, nats per token
    tokens: int
    chars: int | None = None  # characters of the text the tokens cover, where known
    by_label: dict | None = None  # a labelled run's split: {label: EvalResult} of each label's items

    @property
    def bits_per_char(self) -> float | None:
        """The total log-probability over the text's characters, in bits."""
        return self.loss * self.tokens / math.log(2) / self.chars if self.chars else None

    @property
    def perplexity(self) -> float:
        """exp(loss): the perplexity per token."""
        return math.exp(self.loss)

    @property
    def bits(self) -> float:
        """The loss in bits per token."""
        return self.loss / math.log(2)

    def to_json(self) -> dict:
        """The result as JSON: loss, perplexity, bits per token, tokens (and characters, bits per
        character)."""
        out = {"loss": self.loss, "perplexity": self.perplexity, "bits_per_token": self.bits,
               "tokens": self.tokens}
        if self.chars:
            out.update(characters=self.chars, bits_per_char=self.bits_per_char)
        if self.by_label:
            out["labels"] = {label: result.to_json() for label, result in self.by_label.items()}
        return out
