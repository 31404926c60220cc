"""The model families: each declares its settings, its model and its presets in one module
(see base.Family); adding a family is that module plus its line in FAMILIES. Each family's model
and config classes are public here too (`nnlm.models.MLP`, `nnlm.models.MLPConfig`, ...)."""

from __future__ import annotations

from ..errors import NnlmError
from . import bigram, bow, hierarchical, mlp, rnn, transformer
from .base import Family, Model, ModelConfig
from .bigram import Bigram, BigramConfig
from .bow import BoW, BoWConfig
from .hierarchical import HierarchicalConfig, HierarchicalMLP
from .mlp import MLP, MLPConfig
from .rnn import GRU, LSTM, RNNConfig, VanillaRNN
from .transformer import Transformer, TransformerConfig

#: The families by name, what `--model` and `nnlm.train(family=...)` take.
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
#: nnlm 0.1's `--arch` (and its runs' config), by the family each value is now.
ARCH_FAMILIES = {"flat": "mlp", "hierarchical": "hierarchical"}


def family_named(name: str) -> Family:
    """The family called `name`, or a one-line NnlmError listing them."""
    if name not in FAMILIES:
        raise NnlmError.about("family", "--model", f"must be one of {', '.join(FAMILIES)}, got {name!r}")
    return FAMILIES[name]


__all__ = ["ARCH_FAMILIES", "FAMILIES", "Family", "Model", "ModelConfig", "family_named",
           # each family's model and config class (rnn, gru and lstm share RNNConfig)
           "MLP", "MLPConfig", "HierarchicalMLP", "HierarchicalConfig", "Bigram", "BigramConfig", "BoW",
           "BoWConfig", "VanillaRNN", "GRU", "LSTM", "RNNConfig", "Transformer", "TransformerConfig"]
