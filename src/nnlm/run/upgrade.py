"""Run directories written by earlier versions of nnlm, brought up to the current format (4).

    1  nnlm 0.1: one MLP config (`arch` flat or hierarchical), the data file's sha256 and
       sizes inside the data section
    2  model families; `level` (char, word) and `word_mode` (sentence, stream) in the data
    3  `tokens` (char, word) and `kind` (list, text) in the data; `line_ends` for word text
    4  a labelled MLP's `film` (its label scales and shifts every hidden layer)
"""

from __future__ import annotations

from ..models import ARCH_FAMILIES, family_named


def upgrade(config: dict, version: int) -> dict:
    """A config.json of format `version`, in the current format."""
    if version == 1:
        config = upgrade_v1(config)
    if version <= 2:
        config = upgrade_v2(config)
    return upgrade_v3(config) if version <= 3 else config


def upgrade_v1(config: dict) -> dict:
    """Format 1 to 2."""
    model = dict(config["model"])
    name = ARCH_FAMILIES.get(model.pop("arch", "flat"), ARCH_FAMILIES["flat"])
    known = set(family_named(name).config.__dataclass_fields__)
    model = {"family": name, **{k: v for k, v in model.items() if k in known}}
    data = dict(config["data"])
    sha, tokens, items = data.pop("sha256", ""), data.pop("tokens", None), data.pop("items", None)
    source = {"kind": v2_source_kind(data)}
    if sha:
        source["sha256"] = {data.get("path", ""): sha}
    source.update({k: v for k, v in (("tokens", tokens), ("items", items)) if v is not None})
    return {**config, "model": model, "data": data, "source": source}


def v2_source_kind(data: dict) -> str:
    """The source a format-2 data section reads with."""
    if data.get("level", "char") == "char":
        return "items"
    return "stream" if data.get("word_mode") == "stream" else "sentences"


def upgrade_v2(config: dict) -> dict:
    """Format 2 to 3: a word stream's line ends meant nothing (--no-line-ends now)."""
    data = dict(config["data"])
    level, mode = data.pop("level", "char"), data.pop("word_mode", "sentence")
    stream = level == "word" and mode == "stream"
    data.update(tokens=level, kind="text" if stream else "list")
    if stream:
        data["line_ends"] = False
    return {**config, "data": data}


def upgrade_v3(config: dict) -> dict:
    """Format 3 to 4: a labelled MLP of format 3 read its label as an input only (no FiLM)."""
    model = config["model"]
    if model.get("family") != "mlp" or not model.get("labels") or "film" in model:
        return config
    return {**config, "model": {**model, "film": False}}
