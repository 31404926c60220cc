"""Which settings configure what: one partition of a dict of settings into the model family's,
training's and the data's, with one-line errors for a key that is another family's, unknown,
outside the kind of training asked for, or fixed once a run exists. Every command uses it
(train, resume, sweep, lr-find; the command line hands it what it was given)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..errors import NnlmError
from .data import DataConfig
from .declare import FULL_RUN, Setting, settings_of
from .training import TrainConfig


@dataclass
class Parts:
    """Settings by what they configure; a value of None ("not given") is left out."""

    model: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)


def kinds(family, families: Iterable = ()) -> dict[str, list[Setting]]:
    """The settings a run of `family` (a models.Family; None: any of `families`) takes, by
    what they configure."""
    model = settings_of(family.config) if family is not None else \
        list({s.name: s for f in families for s in settings_of(f.config)}.values())
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
    declared = kinds(family, families)
    for key, value in values.items():
        if value is None:
            continue
        kind, setting = next(((k, s) for k, found in declared.items() for s in found if s.name == key),
                             (None, None))
        if setting is None:
            unknown.append(key)
        elif (kind == "data" and not data) or (kind != "data" and setting.scope not in scopes):
            refuse(key, "", purpose)
        elif resuming and not setting.resumable:
            allowed = [s.option for found in declared.values() for s in found if s.resumable]
            refuse(key, f"{setting.option} cannot change when resuming (only {', '.join(allowed)})", purpose)
        else:
            getattr(parts, kind)[key] = value
    for key in unknown:  # a setting of another family is a clear error, not 'unknown'
        others = [f.name for f in families if key in {s.name for s in settings_of(f.config)}]
        if others:
            refuse(key, f"--{key.replace('_', '-')} is a setting of --model {', '.join(others)}, not of "
                   f"--model {family.name}", purpose)
    if unknown:
        refuse(unknown[0], "" if purpose else f"unknown settings: {', '.join(sorted(unknown))}", purpose)
    return parts


def refuse(key: str, why: str, purpose: str) -> None:
    """The one-line error for a setting that cannot be set; `purpose`: who refuses it."""
    if purpose:
        raise NnlmError(f"{key!r} is not a setting {purpose} can set" +
                        (f": {why}" if why else " (see nnlm train --help)"))
    raise NnlmError(why or f"--{key.replace('_', '-')} cannot be set here")
