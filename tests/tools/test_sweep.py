import csv
import json

import pytest

from helpers import after_step, send_signal
from nnlm.cli import main
from nnlm.errors import NnlmError
from nnlm.tools.sweep import parse_assignments, trials


def test_grid_and_random_trials():
    grid = parse_assignments(["n_hidden=8,16", "dropout=0,0.25", "norm=layer"], multi=True)
    assert grid == {"n_hidden": [8, 16], "dropout": [0, 0.25], "norm": ["layer"]}
    every = trials(grid)
    assert len(every) == 4 and {"dropout": 0.25, "n_hidden": 16, "norm": "layer"} in every
    picked = trials(grid, random_trials=2, seed=1)
    assert len(picked) == 2 and all(p in every for p in picked)
    assert picked == trials(grid, random_trials=2, seed=1)
    with pytest.raises(NnlmError, match="KEY=VALUE"):
        parse_assignments(["n_hidden"], multi=True)


def test_sweep_writes_sorted_tables_and_resumes(tiny_file, tmp_path, capsys):
    out = tmp_path / "sweep"
    argv = ["sweep", str(tiny_file), "--out", str(out), "--grid", "n_hidden=4,32",
            "--set", "block_size=3", "n_embd=4", "batch_size=32", "eval_interval=20",
            "--seconds", "1.5"]
    assert main(argv) == 0
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [r["n_hidden"] for r in rows] and len(rows) == 2
    losses = [float(r["dev_loss"]) for r in rows]
    assert losses == sorted(losses)
    assert all(int(r["parameters"]) > 0 and float(r["seconds"]) <= 3 for r in rows)
    table = (out / "results.md").read_text()
    assert "| trial | dev_loss |" in table and "n_hidden=32" in table
    before = json.loads((out / "results.json").read_text())
    capsys.readouterr()
    assert main(argv) == 0  # finished trials are read back, not retrained
    assert json.loads((out / "results.json").read_text()) == before


def test_interrupted_trial_stops_the_sweep(tiny_file, tmp_path, monkeypatch):
    import signal

    from nnlm.tools.sweep import run_sweep

    after_step(monkeypatch, 5, send_signal(signal.SIGTERM))
    grid = {"n_hidden": [4, 8]}
    fixed = dict(block_size=3, n_embd=4, batch_size=32)
    with pytest.raises(NnlmError, match="interrupted by SIGTERM"):
        run_sweep(str(tiny_file), tmp_path / "s", grid, fixed, seconds=30, report=lambda _: None)
    assert not list((tmp_path / "s").glob("*/summary.json"))  # the first trial did not count
    assert len(list((tmp_path / "s").iterdir())) == 1  # and the second never started
