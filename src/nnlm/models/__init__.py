"""The model families: each declares its settings, its model and its presets in one module
(see base.Family); adding a family is that module plus its line in FAMILIES."""

from __future__ import annotations

from ..errors import NnlmError
from . import bigram, bow, hierarchical, mlp, rnn, transformer
from .base import Family, Model

FAMILIES: dict[str, Family] = {f.name: f for f in (
    mlp.FAMILY,
    hierarchical.FAMILY,
    bigram.FAMILY,
    bow.FAMILY,
    rnn.RNN_FAMILY,
    rnn.GRU_FAMILY,
    rnn.LSTM_FAMILY,
    transformer.FAMILY,
)}
DEFAULT = "mlp"
ARCH_FAMILIES = {"flat": "mlp", "hierarchical": "hierarchical"}  # nnlm 0.1's --arch, and its config


def family_named(name: str) -> Family:
    """The family called `name`, or a one-line NnlmError listing them."""
    if name not in FAMILIES:
        raise NnlmError(f"--model must be one of {', '.join(FAMILIES)}, got {name!r}")
    return FAMILIES[name]


__all__ = ["ARCH_FAMILIES", "DEFAULT", "FAMILIES", "Family", "Model", "family_named"]
