"""Data-parallel training under torchrun, two CPU processes over loopback (gloo)."""

import json
import os
import subprocess
import sys

import pytest
import torch

from helpers import FIXTURES
from nnlm.cli import main
from nnlm.errors import NnlmError
from nnlm.run import rundir

MODEL = ["--preset", "quick", "--block-size", "3", "--n-embd", "4", "--n-hidden", "16", "--quiet",
         "--samples", "0", "--eval-interval", "10", "--log-interval", "5", "--device", "cpu"]


def torchrun(*args, nproc=2, timeout=240):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NNLM_DIST_TIMEOUT": "60"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={nproc}", "-m", "nnlm", *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def weights(run):
    tensors, meta = rundir.load_tensors(run / "checkpoint.safetensors")
    return meta["step"], {k: v for k, v in tensors.items() if k.startswith("model.")}


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_one_step_on_two_ranks_equals_one_process_on_the_union(tiny_file, tmp_path, optimizer):
    two, one = tmp_path / "two", tmp_path / "one"
    common = [*MODEL, "--steps", "1", "--optimizer", optimizer, "--lr", "0.5"]
    torchrun("train", tiny_file, "--out", two, "--batch-size", "16", *common)
    assert main(["train", str(tiny_file), "--out", str(one), "--batch-size", "32", *common]) == 0
    (step_a, a), (step_b, b) = weights(two), weights(one)
    assert step_a == step_b == 1
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-6), name
    start = json.loads((two / "metrics.jsonl").read_text().splitlines()[0])
    assert start["step"] == 0  # only rank 0 wrote, once: one line per record
    lines = (two / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == len((one / "metrics.jsonl").read_text().splitlines())


def test_two_process_run_then_single_process_use_and_resume(tiny_file, tmp_path, capsys):
    run = tmp_path / "run"
    out = torchrun("train", tiny_file, "--out", run, "--batch-size", "16", "--steps", "30",
                   *MODEL)
    assert out.count("run directory:") == 1  # rank 0 alone reports
    summary = json.loads((run / "summary.json").read_text())
    capsys.readouterr()
    assert main(["eval", str(run), "--split", "dev", "--json"]) == 0
    single = json.loads(capsys.readouterr().out)
    assert abs(single["loss"] - summary["dev_loss"]) < 1e-5  # sums, not means of shards
    assert main(["sample", str(run), "-n", "3", "--plain"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    # resume the 2-process run on one process, then a 1-process run on two
    assert main(["train", "--resume", "--out", str(run), "--steps", "40", "--quiet",
                 "--samples", "0"]) == 0
    assert weights(run)[0] == 40
    torchrun("train", "--resume", "--out", run, "--steps", "50", "--quiet", "--samples", "0")
    assert weights(run)[0] == 50


def test_two_processes_train_an_lstm_on_running_text(tmp_path, capsys):
    """Running text under torchrun: the ranks share the dev and test segments that the
    recurrent model reads with its state carried, and their sums give one process's loss."""
    run = tmp_path / "text"
    torchrun("train", FIXTURES / "verse20k.txt", "--out", run, "--steps", "10", "--n-hidden", "16",
             "--n-embd", "8", "--block-size", "16", "--batch-size", "256", "--precision", "fp32", "--quiet",
             "--samples", "0", "--device", "cpu")
    summary = json.loads((run / "summary.json").read_text())
    assert json.loads((run / "config.json").read_text())["model"]["family"] == "lstm"
    capsys.readouterr()
    assert main(["eval", str(run), "--split", "dev", "--json", "--no-mix"]) == 0
    assert abs(json.loads(capsys.readouterr().out)["loss"] - summary["model_dev_loss"]) < 1e-5


def test_half_set_launcher_environment_is_a_clear_error(monkeypatch, tiny_file, tmp_path):
    from nnlm.training.distributed import setup

    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    for var in ("LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(NnlmError, match="half-configured: LOCAL_RANK, MASTER_ADDR, MASTER_PORT"):
        setup(torch.device("cpu"))
