"""Run directories written by earlier versions of nnlm, brought up to the current format."""

from __future__ import annotations

from ..data.sources import kind_of
from ..models import ARCH_FAMILIES, family
from ..settings import from_json
from ..settings.data import DataConfig


def upgrade_v1(config: dict) -> dict:
    """Format 1 (nnlm 0.1): one MLP config with `arch` flat or hierarchical, and the data
    file's sha256 and sizes inside the data section."""
    model = dict(config["model"])
    name = ARCH_FAMILIES.get(model.pop("arch", "flat"), ARCH_FAMILIES["flat"])
    known = set(family(name).config.__dataclass_fields__)
    model = {"family": name, **{k: v for k, v in model.items() if k in known}}
    data = dict(config["data"])
    sha, tokens, items = data.pop("sha256", ""), data.pop("tokens", None), data.pop("items", None)
    source = {"kind": kind_of(from_json(DataConfig, data, "config.json data", strict=False))}
    if sha:
        source["sha256"] = {data.get("path", ""): sha}
    source.update({k: v for k, v in (("tokens", tokens), ("items", items)) if v is not None})
    return {**config, "model": model, "data": data, "source": source}
