"""Hyper-parameter search: a grid (or random picks from it), each trial trained with a
time budget and judged on dev; results as CSV and a Markdown table sorted by dev loss.

Trials are run directories under the sweep directory; a trial that already finished
(its summary.json exists) is read back, not retrained, so an interrupted sweep resumes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
import itertools
import json
import random
from pathlib import Path

from ..data.sources import read_source
from ..errors import NnlmError
from ..models import FAMILIES, family_named
from ..run import rundir
from ..run.auto import choose_family
from ..settings.data import DataConfig
from ..settings.declare import TRIAL
from ..settings.partition import declared_settings, partition
from ..training.train import train

COLUMNS = ("trial", "dev_loss", "train_loss", "gap", "parameters", "steps", "seconds")


def parse_assignments(pairs: list[str], multi: bool, family: str | None = None) -> dict:
    """["n_hidden=256,512", ...] -> {"n_hidden": [256, 512]} (or single values), each value
    read as its setting's flag would read it (a setting of `family`, of training or of the
    data; None: of any family). Unknown keys are kept as text, for check_keys to refuse."""
    declared = {s.name: s for settings in declared_settings(family_named(family) if family else None,
                                                            FAMILIES.values()).values() for s in settings}
    out = {}
    for pair in pairs:
        key, sep, values = pair.partition("=")
        if not sep or not key or not values:
            raise NnlmError(f"expected KEY=VALUE{',VALUE...' if multi else ''}, got {pair!r}")
        key = key.strip().replace("-", "_")
        setting = declared.get(key)
        parse = setting.from_text if setting is not None else str
        out[key] = [parse(v) for v in values.split(",")] if multi else parse(values)
    return out


def check_keys(family: str, keys) -> None:
    """Every key a setting of the model family or of training that a trial may set."""
    partition(dict.fromkeys(keys, True), family_named(family), FAMILIES.values(), scopes=TRIAL, data=False,
              purpose=f"a sweep of --model {family}")


def trials(grid: dict, random_trials: int = 0, seed: int = 0) -> list[dict]:
    """Every combination of the grid, or `random_trials` distinct ones picked at random."""
    keys = sorted(grid)
    combos = [dict(zip(keys, values, strict=True))
              for values in itertools.product(*(grid[k] for k in keys))]
    if random_trials and random_trials < len(combos):
        combos = random.Random(seed).sample(combos, random_trials)
    return combos


def trial_name(params: dict) -> str:
    """The trial's directory name, from its settings (a whole float as an int: lr=3, not lr=3.0)."""
    def text(v):
        return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)

    return "_".join(f"{k}={text(v)}" for k, v in sorted(params.items())) or "trial"


def run_sweep(data: str | None, out: str | Path, grid: dict, fixed: dict, seconds: float,
              family: str | None = None, preset: str = "default", random_trials: int = 0, seed: int = 1337,
              progress: bool = False, report: Callable[[str], None] = print, data_options: dict | None = None,
              model: str | None = None) -> list[dict]:
    """A hyper-parameter search (`nnlm sweep`): train every trial for `seconds` and judge it on
    dev, writing results.csv, results.md and results.json into `out` after each trial (a trial
    already finished is read back, so an interrupted sweep resumes).

    Args:
        data: a text file, as for nnlm.train (None: the bundled names).
        out: the sweep directory: a run directory per trial, and the results.
        grid: {setting: [values]} to try, e.g. {"n_hidden": [256, 512]}.
        fixed: {setting: value} for every trial.
        seconds: each trial's time budget.
        family: the model family (None: the one the default run chooses from the data).
        preset: every trial's preset; then `fixed`, then the trial's own settings.
        random_trials: try this many random points of the grid, not all (0: all).
        seed: seeds the random points.
        progress: progress bars. report: called with a line per trial.
        data_options: the data settings, as nnlm.train takes them. model: the earlier name of
            `family`.

    Returns:
        The trials' rows (their settings, dev and train loss, parameters, steps, seconds), best
        on dev first.

    Raises:
        NnlmError: a key that is not a setting a trial may set, seconds <= 0, bad data; an
            interrupted trial stops the sweep (run it again to resume).
    """
    if seconds <= 0:
        raise NnlmError.about("seconds", "--seconds", f"must be positive, got {seconds}")
    family = family or model
    if family is None:
        family = choose_family(read_source(data, DataConfig(**(data_options or {}))).facts())[0]
    check_keys(family, [*grid, *fixed])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for params in trials(grid, random_trials, seed):
        run_dir = out / trial_name(params)
        if not (run_dir / rundir.SUMMARY).exists():
            settings = {**fixed, **params, "max_seconds": seconds}
            settings.setdefault("steps", 10**9)  # the clock decides
            settings.setdefault("mix", False)  # trials compare models, not their n-gram mixtures
            result = train(data, str(run_dir), family=family, preset=preset, overwrite=True,
                           progress=progress, **{**settings, **(data_options or {})})
            if result.stopped.interrupted:
                # the sweep stops too; this trial reruns when the sweep is run again
                (run_dir / rundir.SUMMARY).unlink(missing_ok=True)
                raise NnlmError(f"sweep {result.stopped.value}; run the same command to resume")
        rows.append(read_trial(run_dir, params))
        report(f"{rows[-1]['trial']}: dev {rows[-1]['dev_loss']:.4f}")
        write_results(out, rows, seconds)
    return sorted(rows, key=lambda r: r["dev_loss"])


def read_trial(run_dir: Path, params: dict) -> dict:
    """A finished trial's row: its settings, losses, parameters, steps and seconds."""
    summary = rundir.read_summary(run_dir)
    spec = rundir.load_spec(run_dir)
    parameters = spec.family.build(spec.model_config).num_parameters()
    return {"trial": trial_name(params), **params, "dev_loss": summary["dev_loss"],
            "train_loss": summary["train_loss"],
            "gap": summary["dev_loss"] - summary["train_loss"], "parameters": parameters,
            "steps": summary["step"], "seconds": round(summary["seconds"], 1)}


def write_results(out: Path, rows: list[dict], seconds: float) -> None:
    """results.csv, results.md and results.json of the trials so far, best on dev first."""
    rows = sorted(rows, key=lambda r: r["dev_loss"])
    keys = list(COLUMNS) + sorted({k for r in rows for k in r} - set(COLUMNS))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys)
    writer.writeheader()
    writer.writerows(rows)
    rundir.atomic_write(out / "results.csv", buf.getvalue().encode())
    lines = [f"Sweep: {len(rows)} trials, {seconds:g} s each, sorted by dev loss (nats/token).",
             "", "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for r in rows:
        lines.append("| " + " | ".join(_cell(k, r.get(k, "")) for k in keys) + " |")
    rundir.atomic_write(out / "results.md", ("\n".join(lines) + "\n").encode())
    rundir.atomic_write(out / "results.json", json.dumps(rows, indent=1).encode())


def _cell(key: str, value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if key in ("dev_loss", "train_loss", "gap") else f"{value:g}"
    return str(value)
