"""Which settings configure what: one partition of a dict of settings into the model family's,
training's and the data's, with one-line errors for a key that is another family's, unknown,
outside the kind of training asked for, or fixed once a run exists. Every command uses it
(train, resume, sweep, lr-find, ngram; the command line hands it what it was given)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..errors import NnlmError, SettingError
from .data import DataConfig
from .declare import FAMILY, FULL_RUN, Setting, settings_of
from .training import TrainConfig


@dataclass
class Parts:
    """Settings by what they configure; a value of None ("not given") is left out."""

    model: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)


def family_settings(families: Iterable) -> dict[str, Setting]:
    """Every setting of the model families `families` (models.Family), by name."""
    return {s.name: s for f in families for s in settings_of(f.config)}


def declared_settings(family, families: Iterable = ()) -> dict[str, list[Setting]]:
    """The settings a run of `family` (a models.Family; None: any of `families`) takes, by
    the part of the run they configure ("model", "train", "data")."""
    model = settings_of(family.config) if family is not None else list(family_settings(families).values())
    return {"model": model, "train": settings_of(TrainConfig), "data": settings_of(DataConfig)}


def partition(values: dict, family, families: Iterable = (), *, scopes: tuple = FULL_RUN,
              resuming: bool = False, data: bool = True, purpose: str = "") -> Parts:
    """Split `values` by what they configure for a run of `family`.

    families: every family, to name the one a key belongs to when it is not `family`'s;
    scopes: the kinds of training whose settings are taken (declare.FULL_RUN, TRIAL or SHORT;
    data settings are taken unless data=False); resuming: only
    settings that may change when a run resumes; data=False: no data settings; purpose
    names the caller in errors ("a sweep of --model mlp")."""
    families = list(families)
    parts, unknown = Parts(), []
    declared = declared_settings(family, families)
    for key, value in values.items():
        if value is None:
            continue
        part, found = next(((p, s) for p, settings in declared.items() for s in settings if s.name == key),
                           (None, None))
        if found is None:
            unknown.append(key)
        elif (part == "data" and not data) or (part != "data" and found.scope not in scopes):
            refuse(found, "", purpose)
        elif resuming and not found.resumable:
            allowed = [s for settings in declared.values() for s in settings if s.resumable]
            only = ", ".join(f"{{{n}}}" for n in range(1, len(allowed) + 1))
            raise SettingError(f"{{0}} cannot change when resuming (only {only})", found, *allowed)
        else:
            getattr(parts, part)[key] = value
    if family is not None:
        check_family(unknown, family, families, purpose)
    if unknown:
        refuse(unknown[0], "" if purpose else f"unknown settings: {', '.join(sorted(unknown))}", purpose)
    return parts


def check_family(keys: Iterable[str], family, families: Iterable, purpose: str = "") -> None:
    """A one-line error for the first of `keys` that is a setting of another family than
    `family`'s (keys of no family are left to the caller)."""
    own = {s.name for s in settings_of(family.config)}
    others = family_settings(families)
    for key in keys:
        if key not in own and key in others:
            owners = ", ".join(f.name for f in families if key in {s.name for s in settings_of(f.config)})
            if purpose:
                refuse(others[key], f"a setting of {owners}, not of {family.name}", purpose)
            raise SettingError(f"{{0}} is a setting of {{1}} {owners}, not of {{1}} {family.name}",
                               others[key], FAMILY)


def refuse(setting: Setting | str, why: str, purpose: str) -> None:
    """The one-line error for a setting (or an unknown key) that cannot be set; `purpose`:
    who refuses it."""
    key, option = (setting.name, setting.option) if isinstance(setting, Setting) else (setting, setting)
    if purpose:
        raise NnlmError(f"{key!r} is not a setting {purpose} can set" +
                        (f": {why}" if why else " (see nnlm train --help)"))
    raise NnlmError(why or f"{option} cannot be set here")
