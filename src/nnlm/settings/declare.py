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
import types
import typing
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

from ..errors import NnlmError, SettingError

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
    aliases: tuple = ()  # more flags for it (a short one: "-n")
    hidden: tuple = ()  # earlier spellings of its flag, still taken, not shown
    optional: bool = False  # None is a value too (declared as `X | None`)

    @property
    def option(self) -> str:
        """The command-line flag."""
        return self.flag or "--" + self.name.replace("_", "-")

    def check(self, value) -> None:
        """Raise a one-line SettingError when `value` is not allowed (it names the setting as
        its reader knows it: argument, flag or JSON field)."""
        v = value
        if v is None and self.optional:
            return
        if self.choices and v not in self.choices:
            self.refuse(f"must be one of {', '.join(map(str, self.choices))}, got {v!r}")
        if self.type not in (int, float):
            return
        low, high = _number(self.above if self.above is not None else self.at_least), \
            _number(self.below if self.below is not None else self.at_most)
        if self.above is not None and self.below is not None and not self.above < v < self.below:
            self.refuse(f"must be in ({low}, {high}), got {v}")
        if self.at_least is not None and self.below is not None and not self.at_least <= v < self.below:
            self.refuse(f"must be in [{low}, {high}), got {v}")
        if self.above is not None and self.at_most is not None and not self.above < v <= self.at_most:
            self.refuse(f"must be in ({low}, {high}], got {v}")
        if self.at_least is not None and self.at_most is not None and not self.at_least <= v <= self.at_most:
            self.refuse(f"must be from {low} to {high}, got {v}")
        if self.above is not None and not v > self.above:
            self.refuse(f"must be {'positive' if self.above == 0 else f'> {low}'}, got {v}")
        if self.at_least is not None and not v >= self.at_least:
            self.refuse(f"must be {f'at least {low}' if self.type is int else f'>= {low}'}, got {v}")
        if self.at_most is not None and not v <= self.at_most:
            self.refuse(f"must be at most {high}, got {v}")

    def refuse(self, why: str):
        """Raise the SettingError '<this setting> <why>'."""
        raise SettingError("{0} " + why.replace("{", "{{").replace("}", "}}"), self)

    def from_text(self, text: str):
        """The value `text` stands for, as the command line would read it (a sweep's grid);
        NnlmError where it is not one of the setting's type."""
        try:
            if self.parse is not None:
                return self.parse(text)
            if self.type is bool:
                return {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}[
                    text.strip().lower()]
            return self.type(text)
        except (ValueError, KeyError, argparse.ArgumentTypeError):
            raise NnlmError(f"{self.name}={text!r} is not a valid {self.type.__name__}") from None


def _number(x) -> str:
    """A bound as people write it: an int as it is, a float briefly."""
    return str(x) if isinstance(x, int) or x is None else f"{x:g}"


# the model family: not a setting of a config, but named like one in errors (the flag is --model)
FAMILY = Setting("family", str, None, "the model family", flag="--model")


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
            hint, optional = unwrap_optional(hints[f.name])
            out.append(Setting(name=f.name, type=typing.get_origin(hint) or hint, optional=optional, **meta))
    return out


def unwrap_optional(hint) -> tuple[Any, bool]:
    """(X, True) for a hint `X | None`, else (hint, False)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return hint, False


def check(cfg) -> None:
    """Every declared setting of `cfg` within its bounds and choices."""
    for s in settings_of(type(cfg)):
        s.check(getattr(cfg, s.name))


def to_json(cfg) -> dict:
    """A config dataclass as a JSON object."""
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
    base = typing.get_origin(hint) or hint
    if base is tuple and isinstance(value, list | tuple):
        return tuple(value)
    ok = {bool: isinstance(value, bool),
          int: isinstance(value, int) and not isinstance(value, bool),
          float: isinstance(value, int | float) and not isinstance(value, bool),
          str: isinstance(value, str)}.get(base, False)
    if not ok:
        raise NnlmError(f"{what} = {value!r} is not a valid {base.__name__}")
    return float(value) if base is float else value


def add_flags(group, settings: list[Setting], scopes: tuple = FULL_RUN, seen: set | None = None,
              chosen: frozenset = frozenset(), defaults: dict[str, str] | None = None) -> None:
    """An argparse flag (default None: "not given") for each setting of `scopes`, its help ending
    with its default (for the names in `chosen`: that the default run chooses it from the data;
    `defaults`: how to say a setting's default, where not by its value); `seen` skips names
    already added (settings several model families share)."""
    seen = set() if seen is None else seen
    for s in settings:
        if s.scope not in scopes or s.name in seen:
            continue
        seen.add(s.name)
        kwargs = dict(dest=s.name, default=None)
        if s.type is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = s.parse or s.type
            if s.choices:
                kwargs["choices"] = s.choices
            if s.metavar:
                kwargs["metavar"] = s.metavar
        text = flag_help(s, s.name in chosen, (defaults or {}).get(s.name))
        group.add_argument(*s.aliases, s.option, help=text, **kwargs)
        if s.hidden:
            group.add_argument(*s.hidden, help=argparse.SUPPRESS, **kwargs)


def flag_help(s: Setting, chosen: bool = False, value: str | None = None) -> str:
    """A setting's help with its default said: "(default: 3)", or how the default run chooses it;
    `value`: the default in words, where not the declared value."""
    if "(default" in s.help:
        return s.help
    value = value or show_value(s.default)
    return f"{s.help} (default: {'chosen from the data; else ' if chosen else ''}{value})".replace("%", "%%")


def show_value(value) -> str:
    """A setting's value as the command line writes it."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ",".join(map(show_value, value)) or "none"
    if isinstance(value, float):
        return f"{value:g}"
    return "none" if value in (None, "") else str(value)


def given(args, settings: list[Setting], scopes: tuple = FULL_RUN) -> dict:
    """{name: value} of the settings of `scopes` given on the command line (a command's own
    option of the same name, like the lr finder's --steps, is not the setting)."""
    return {s.name: getattr(args, s.name) for s in settings
            if s.scope in scopes and getattr(args, s.name, None) is not None}
