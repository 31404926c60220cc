"""A run's full description in memory: model family and its config, training and data
settings, and the data source. `build_spec` makes one from what the user asked for (a preset,
settings over it, a data file); rundir.py writes it to disk and reads it back."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from ..data.sources import Source, read_source
from ..data.text import bundled_names_path
from ..errors import NnlmError, SettingError
from ..models import FAMILIES, Family, family_named
from ..models.base import ModelConfig
from ..settings import to_json
from ..settings.data import DataConfig
from ..settings.partition import Parts, check_family, declared_settings, family_settings, partition
from ..settings.training import TrainConfig
from . import auto

HEAD_START_LR_DIVISOR = 3  # --init-from: a fresh run's peak lr over this (measured in control.py)


@dataclass
class RunSpec:
    run_dir: Path
    family: Family
    model_config: ModelConfig  # the family's config dataclass
    train: TrainConfig
    data: DataConfig
    source: Source
    preset: str
    why: list[str] = field(default_factory=list)  # the settings the default run chose, and why
    notes: list[str] = field(default_factory=list)  # what reading the data decided

    @property
    def vocab(self):
        """The data's vocabulary."""
        return self.source.vocab

    @property
    def reasons(self) -> list[str]:
        """What reading the data decided, then the settings chosen and why, a line each."""
        return self.notes + self.why

    def windows(self, split: str, block_size: int | None = None):
        """The examples of split `split` ("train", "dev" or "test"), contexts of the model's
        block size or `block_size`."""
        return self.source.windows(split, block_size or self.model_config.block_size)


def preset_settings(fam: Family, name: str) -> dict:
    """The settings of preset `name` of a family."""
    if name not in fam.presets:
        choices = ", ".join(sorted({"default", *fam.presets}))
        others = [f.name for f in FAMILIES.values() if name in f.presets]
        has = f" (--model {', '.join(others)} {'has' if len(others) == 1 else 'have'} it)" if others else ""
        has = has.replace("--model ", "family ")
        raise NnlmError(f"unknown preset {name!r} for the family {fam.name}; choose from {choices}{has}",
                        cli=f"unknown preset {name!r} for --model {fam.name}; choose from {choices}"
                        f"{has.replace('family ', '--model ')}")
    return dict(fam.presets.get(name, {}))


def build_configs(family: str | None, preset: str, given: Parts, source: Source,
                  origin: RunSpec | None = None):
    """The family (None: chosen from the data), its model config, the training config and
    why: the preset's settings (the default: chosen from the data, see auto.py), overridden by
    the model and training settings `given` (partitioned: see settings.partition). `origin`:
    the run whose weights this one starts from, whose family and model settings it takes."""
    if origin is not None:
        family = check_origin(family, origin)
    name, why = (family, []) if family else auto.choose_family(source.facts())
    fam = family_named(name)
    if not family:  # the settings given were checked against every family's: now against this one's
        check_family(given.model, fam, FAMILIES.values())
    base, chosen = auto.choose(fam, source) if preset == "default" else (preset_settings(fam, preset), [])
    why += chosen
    wanted = {**given.model, **given.train}
    in_full = bool(wanted.get("steps")) and preset == "default"  # an explicit --steps: no early stop
    option = {s.name: s.option for declared in declared_settings(fam).values() for s in declared}
    overridden = [f"{option[k]} {v:g}" if isinstance(v, float) else f"{option[k]} {v}"
                  for k, v in wanted.items() if k in base and v != base[k] and not (in_full and k == "steps")]
    if chosen and overridden:  # the reasons above stand for the choices, these replace some of them
        why.append(f"given, over the choices above: {', '.join(overridden)}")
    if in_full:
        base.update(patience=0, max_seconds=0.0)
        seconds = wanted.get("max_seconds")
        clock = f" unless --max-seconds {seconds:g} ends it first" if seconds else ""
        why.append(f"--steps {wanted['steps']}: trained in full{clock}")
    base = partition(base, fam, FAMILIES.values(), data=False)
    if origin is not None:  # the settings that shape its weights, whatever the preset or the data chose
        base.model, taken = origin_model_settings(fam, origin, base.model, given.model)
        own = f"; its own {', '.join(taken)}" if taken else ""
        why.append(f"starting from {origin.run_dir}: its family ({fam.name}) and the model settings that "
                   f"shape its weights{own}")
        if "lr" not in given.train:
            lr = base.train.get("lr", TrainConfig.lr) / HEAD_START_LR_DIVISOR
            base.train["lr"] = lr
            why.append(f"peak lr {lr:g}, a third of a fresh run's: weights that already predict "
                       "well need smaller steps (benchmarks/control.py head-start)")
    train_cfg = TrainConfig(**{**base.train, **given.train})
    train_cfg.validate()
    model_cfg = fam.config(vocab_size=source.id_count(), labels=len(source.labels), **{**base.model,
                                                                                       **given.model})
    model_cfg.validate()
    return fam, model_cfg, train_cfg, why


def check_origin(family: str | None, origin: RunSpec) -> str:
    """The family of a run that starts from `origin`'s weights: origin's (NnlmError for another)."""
    if family and family != origin.family.name:
        raise NnlmError(f"{origin.run_dir} is a {origin.family.name} run: a run that starts from its "
                        f"weights is one too, not {family}")
    return origin.family.name


def weight_shapes(fam: Family, config: ModelConfig) -> dict[str, tuple]:
    """The shape of each of a model's parameters and buffers (built on the meta device: no
    memory); weights shared (tied) appear once."""
    import torch

    with torch.device("meta"):
        model = fam.build(config)
    return {name: tuple(t.shape) for name, t in [*model.named_parameters(), *model.named_buffers()]}


def origin_model_settings(fam: Family, origin: RunSpec, chosen: dict, given: dict) -> tuple[dict, list[str]]:
    """The model settings of a run that starts from `origin`'s weights: origin's, except those
    that leave the weights as they are (dropout, the sampled softmax, a recurrent network's
    piece length...), which come from the data as for any run (`chosen`) or from `given`;
    and what was taken so. Found by building the model: no list to keep up to date.

    Raises:
        SettingError: a given setting that would change the weights (a size, tying).
    """
    settings = {k: v for k, v in to_json(origin.model_config).items() if k not in ("vocab_size", "labels")}
    if not origin.model_config.labels:  # how a label is read: this run's own (its default, or given)
        settings.pop("film", None)
    shapes = weight_shapes(fam, origin.model_config)
    taken = []
    for name, value in {**chosen, **given}.items():
        if name not in settings or value == settings[name]:
            continue
        if weight_shapes(fam, replace(origin.model_config, **{name: value})) == shapes:
            settings[name] = value
            taken.append(name)
        elif name in given:
            raise SettingError("{0}: a run that starts from another's weights takes the settings that shape "
                               "them", family_settings(FAMILIES.values())[name])
    return settings, taken


def build_spec(data: str | None, out: str | None, *, family: str | None = None, preset: str = "default",
               settings: dict | None = None, origin: RunSpec | None = None) -> RunSpec:
    """Read and split the data and build every config from `settings` (the model family's,
    training's and the data's); the family None: chosen from the data; `origin`: the run whose
    weights it starts from (its vocabulary is kept and extended). Nothing is written."""
    # (before the data is read: an unknown family or setting)
    given = partition(settings or {}, family_named(family) if family else None, FAMILIES.values())
    source = read_source(data, DataConfig(**given.data), origin.vocab if origin else None)
    fam, model_cfg, train_cfg, why = build_configs(family, preset, given, source, origin)
    run_dir = Path(out) if out else default_run_dir(Path(data) if data else bundled_names_path())
    return RunSpec(run_dir, fam, model_cfg, train_cfg, source.config, source, preset, why, list(source.notes))


def default_run_dir(data_path: Path) -> Path:
    """runs/<data name>, or runs/<data name>-2, -3... so nothing is overwritten."""
    base = Path("runs") / data_path.stem
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate
