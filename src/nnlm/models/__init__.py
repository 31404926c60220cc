"""The model families: each declares its settings, its model and its presets in one module
(see base.Family); adding a family is that module plus its line in FAMILIES."""

from __future__ import annotations

from ..errors import NnlmError
from . import bigram, hierarchical, mlp
from .base import Family, Model

FAMILIES: dict[str, Family] = {f.name: f for f in (
    mlp.FAMILY,
    hierarchical.FAMILY,
    bigram.FAMILY,
)}
DEFAULT = "mlp"


def family(name: str) -> Family:
    if name not in FAMILIES:
        raise NnlmError(f"--model must be one of {', '.join(FAMILIES)}, got {name!r}")
    return FAMILIES[name]


def family_of(config) -> Family:
    """The family whose config class `config` is an instance of."""
    return next(f for f in FAMILIES.values() if isinstance(config, f.config))


def build_model(config) -> Model:
    return family_of(config).build(config)


__all__ = ["DEFAULT", "FAMILIES", "Family", "Model", "build_model", "family", "family_of"]
