"""Settings, each declared once: a dataclass field made by `setting()`.

The declaration carries the default, the type (the field's annotation), the help text,
the allowed values and its scope: what kind of training it belongs to. From it come the
command-line flags (cli.py), the checks of values (`check`), the reading and type-checking of
run configs (`from_json`), and the keys that presets, sweeps and the lr finder accept
(partition.py).

    @dataclass
    class TrainConfig:
        lr: float = setting(3e-3, "peak learning rate", above=0)
"""

from __future__ import annotations

import argparse
import typing
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

from ..errors import NnlmError

# A setting's scope: what kind of training it belongs to. Each kind of training takes the
# settings of its scopes (and the commands offer those as flags).
TRAINING = "training"  # any training, the lr finder's short sweep too (sizes, batch, optimizer, seed)
RUN = "run"  # a full training run: its length, lr schedule, evaluations and outputs
BUDGET = "budget"  # the run's own time budget (a sweep gives each of its trials the same one)
FULL_RUN = (TRAINING, RUN, BUDGET)  # nnlm train
TRIAL = (TRAINING, RUN)  # a trial of a sweep
SHORT = (TRAINING,)  # the lr finder


@dataclass(frozen=True)
class Setting:
    name: str
    type: type  # int, float, bool, str or tuple
    default: Any
    help: str
    choices: tuple = ()
    at_least: float | None = None  # value >= at_least
    above: float | None = None  # value > above
    below: float | None = None  # value < below
    at_most: float | None = None  # value <= at_most
    scope: str = TRAINING
    resumable: bool = False  # may change when a run is resumed
    parse: Callable[[str], Any] | None = None  # text -> value, for tuples
    metavar: str | None = None
    flag: str = ""  # the command-line flag, when not --name-with-dashes

    @property
    def option(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    def check(self, value) -> None:
        """Raise NnlmError with a one-line message when `value` is not allowed."""
        opt, v = self.option, value
        if self.choices and v not in self.choices:
            raise NnlmError(f"{opt} must be one of {', '.join(map(str, self.choices))}, got {v!r}")
        if self.type not in (int, float):
            return
        if self.above is not None and self.below is not None and not self.above < v < self.below:
            raise NnlmError(f"{opt} must be in ({self.above:g}, {self.below:g}), got {v}")
        if self.at_least is not None and self.below is not None and not self.at_least <= v < self.below:
            raise NnlmError(f"{opt} must be in [{self.at_least:g}, {self.below:g}), got {v}")
        if self.at_least is not None and self.at_most is not None and not self.at_least <= v <= self.at_most:
            raise NnlmError(f"{opt} must be in [{self.at_least:g}, {self.at_most:g}], got {v}")
        if self.above is not None and not v > self.above:
            words = "positive" if self.above == 0 else f"> {self.above:g}"
            raise NnlmError(f"{opt} must be {words}, got {v}")
        if self.at_least is not None and not v >= self.at_least:
            words = f"at least {self.at_least:g}" if self.type is int else f">= {self.at_least:g}"
            raise NnlmError(f"{opt} must be {words}, got {v}")


def setting(default, help: str, **options):
    """A dataclass field that declares a setting (see `Setting` for the options)."""
    return field(default=default, metadata={"setting": options | {"default": default, "help": help}})


def settings_of(cls) -> list[Setting]:
    """The settings a config dataclass declares, in declaration order."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in fields(cls):
        meta = f.metadata.get("setting")
        if meta is not None:
            kind = typing.get_origin(hints[f.name]) or hints[f.name]
            out.append(Setting(name=f.name, type=kind, **meta))
    return out


def check(cfg) -> None:
    """Every declared setting of `cfg` within its bounds and choices."""
    for s in settings_of(type(cfg)):
        s.check(getattr(cfg, s.name))


def to_json(cfg) -> dict:
    return asdict(cfg)


def from_json(cls, obj: dict, source: str, strict: bool = True):
    """An instance of config dataclass `cls` from JSON, each value of its field's type.

    strict: keys `cls` does not know are an error (else ignored, for older files)."""
    if not isinstance(obj, dict):
        raise NnlmError(f"{source}: expected an object of settings")
    names = {f.name for f in fields(cls)}
    unknown = set(obj) - names
    if unknown and strict:
        raise NnlmError(f"{source}: unknown settings {sorted(unknown)}")
    hints = typing.get_type_hints(cls)
    values = {}
    for f in fields(cls):
        if f.name not in obj:
            if f.default is MISSING and f.default_factory is MISSING:
                raise NnlmError(f"{source}: {f.name} is missing")
            continue
        values[f.name] = coerce(obj[f.name], hints[f.name], f"{source}: {f.name}")
    return cls(**values)


def coerce(value, hint, what: str):
    """`value` read from JSON as type `hint` (int, float, bool, str or tuple), or NnlmError."""
    kind = typing.get_origin(hint) or hint
    if kind is tuple and isinstance(value, list | tuple):
        return tuple(value)
    ok = {bool: isinstance(value, bool),
          int: isinstance(value, int) and not isinstance(value, bool),
          float: isinstance(value, int | float) and not isinstance(value, bool),
          str: isinstance(value, str)}.get(kind, False)
    if not ok:
        raise NnlmError(f"{what} = {value!r} is not a valid {kind.__name__}")
    return float(value) if kind is float else value


def add_flags(group, settings: list[Setting], scopes: tuple = FULL_RUN, seen: set | None = None) -> None:
    """An argparse flag (default None: "not given") for each setting of `scopes`; `seen`
    skips names already added (settings several model families share)."""
    seen = set() if seen is None else seen
    for s in settings:
        if s.scope not in scopes or s.name in seen:
            continue
        seen.add(s.name)
        kwargs = dict(dest=s.name, default=None, help=s.help)
        if s.type is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = s.parse or s.type
            if s.choices:
                kwargs["choices"] = s.choices
            if s.metavar:
                kwargs["metavar"] = s.metavar
        group.add_argument(s.option, **kwargs)


def given(args, settings: list[Setting], scopes: tuple = FULL_RUN) -> dict:
    """{name: value} of the settings of `scopes` given on the command line (a command's own
    option of the same name, like the lr finder's --steps, is not the setting)."""
    return {s.name: getattr(args, s.name) for s in settings
            if s.scope in scopes and getattr(args, s.name, None) is not None}
