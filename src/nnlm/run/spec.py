"""A run's full description in memory: model family and settings, training and data
settings, and the data source. `build_spec` makes one from what the user asked for
(a preset, settings over it, a data file); rundir.py writes it to disk and reads it back."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..data.sources import Source, read_source
from ..data.text import bundled_names_path
from ..errors import NnlmError
from ..models import FAMILIES, Family, family
from ..settings.data import DataConfig
from ..settings.partition import kinds, partition
from ..settings.training import TrainConfig
from . import auto


@dataclass
class RunSpec:
    run_dir: Path
    family: Family
    model: object  # the family's config dataclass
    train: TrainConfig
    data: DataConfig
    source: Source
    preset: str
    why: list[str] = field(default_factory=list)  # how the default run chose its settings

    @property
    def vocab(self):
        return self.source.vocab

    def windows(self, split: str, block_size: int | None = None):
        """The examples of split `split` ("train", "dev" or "test"), contexts of the model's
        block size or `block_size`."""
        return self.source.windows(split, block_size or self.model.block_size)


def preset_settings(fam: Family, name: str) -> dict:
    """The settings of preset `name` of a family."""
    if name not in fam.presets:
        choices = ", ".join(sorted({"default", *fam.presets}))
        others = [f.name for f in FAMILIES.values() if name in f.presets]
        has = f" (--model {', '.join(others)} {'has' if len(others) == 1 else 'have'} it)" if others else ""
        raise NnlmError(f"unknown preset {name!r} for --model {fam.name}; choose from {choices}{has}")
    return dict(fam.presets.get(name, {}))


def build_configs(model: str | None, preset: str, settings: dict, source: Source):
    """The family (None: chosen from the data), its model config, the training config and
    why: the preset's settings (the default: chosen from the data, see auto.py), overridden by
    `settings` (None values: keep the preset's)."""
    model, why = (model, []) if model else auto.choose_family(source.facts())
    fam = family(model)
    given = {k: v for k, v in settings.items() if v is not None}
    base, chosen = auto.choose(fam, source) if preset == "default" else (preset_settings(fam, preset), [])
    why += chosen
    in_full = bool(given.get("steps")) and preset == "default"  # an explicit --steps: no early stop
    option = {s.name: s.option for declared in kinds(fam).values() for s in declared}
    overridden = [f"{option[k]} {given[k]:g}" if isinstance(given[k], float) else f"{option[k]} {given[k]}"
                  for k in given if k in base and given[k] != base[k] and not (in_full and k == "steps")]
    if chosen and overridden:  # the reasons above stand for the choices, these replace some of them
        why.append(f"given, over the choices above: {', '.join(overridden)}")
    if in_full:
        base.update(patience=0, max_seconds=0.0)
        seconds = given.get("max_seconds")
        clock = f" unless --max-seconds {seconds:g} ends it first" if seconds else ""
        why.append(f"--steps {given['steps']}: trained in full{clock}")
    parts = partition({**base, **given}, fam, FAMILIES.values(), data=False)
    train_cfg = TrainConfig(**parts.train)
    train_cfg.validate()
    model_cfg = fam.config(vocab_size=len(source.vocab), **parts.model)
    model_cfg.validate()
    return fam, model_cfg, train_cfg, why


def build_spec(data: str | None, out: str | None, *, model: str | None = None, preset: str = "default",
               settings: dict | None = None) -> RunSpec:
    """Read and split the data and build every config from `settings` (the model family's,
    training's and the data's); the family None: chosen from the data. Nothing is written."""
    # (before the data is read: an unknown family or setting)
    parts = partition(settings or {}, family(model) if model else None, FAMILIES.values())
    source = read_source(data, DataConfig(**parts.data))
    fam, model_cfg, train_cfg, why = build_configs(model, preset, {**parts.model, **parts.train}, source)
    why = source.notes + why
    run_dir = Path(out) if out else default_run_dir(Path(data) if data else bundled_names_path())
    return RunSpec(run_dir, fam, model_cfg, train_cfg, source.config, source, preset, why)


def default_run_dir(data_path: Path) -> Path:
    """runs/<data name>, or runs/<data name>-2, -3... so nothing is overwritten."""
    base = Path("runs") / data_path.stem
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate
