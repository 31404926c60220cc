"""Bad input, interruptions, concurrent runs and untrusted files, through the CLI."""

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from helpers import run_error
from nnlm.cli import main
from nnlm.data.split import split_items
from nnlm.errors import NnlmError
from nnlm.run import rundir
from nnlm.run.rundir import locked

TINY = ["--preset", "quick", "--block-size", "3", "--n-embd", "4", "--n-hidden", "16", "--batch-size", "32",
        "--steps", "40", "--eval-interval", "20", "--quiet", "--samples", "0"]


def assert_user_error(capsys, message, *argv):
    error = run_error(capsys, *argv)
    assert message in error, error


@pytest.fixture
def run_dir(tiny_file, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", str(tiny_file), "--out", str(out), *TINY]) == 0
    capsys.readouterr()
    return out


BAD_FILES = {
    "empty.txt": (b"", "the file is empty"),
    "blank.txt": (b"\n \n\t\n", "only blank lines"),
    "latin1.txt": (b"anna\nbob\nj\xe9r\xf4me\n", "latin1.txt:3: not valid UTF-8"),
    "binary.bin": (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary.bin:3: binary data"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_data_files(tmp_path, capsys, name):
    content, message = BAD_FILES[name]
    path = tmp_path / name
    path.write_bytes(content)
    assert_user_error(capsys, message, "train", path, "--out", tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing written


def test_a_run_nothing_would_stop_is_refused(tiny_file, tmp_path, capsys):
    assert_user_error(capsys, "--steps 0 needs --max-seconds or --patience", "train", tiny_file,
                      "--out", tmp_path / "o", "--preset", "quick", "--steps", "0")
    assert not (tmp_path / "o").exists()


def test_missing_path_and_directory(tmp_path, capsys):
    assert_user_error(capsys, "no such file", "train", tmp_path / "nope.txt")
    assert_user_error(capsys, "is a directory", "train", tmp_path)


def test_crlf_and_bom_just_work(tmp_path, capsys, names):
    path = tmp_path / "windows.txt"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(names[:300]).encode() + b"\r\n")
    assert main(["train", str(path), "--out", str(tmp_path / "r"), *TINY]) == 0
    vocab = json.loads((tmp_path / "r" / "vocab.json").read_text())["chars"]
    assert "\r" not in vocab and "\ufeff" not in vocab


@pytest.mark.parametrize("option, value, message", [
    ("--block-size", "0", "--block-size must be at least 1"),
    ("--lr", "-0.1", "--lr must be positive"),
    ("--steps", "-1", "--steps must be at least 0"),
    ("--patience", "-1", "--patience must be at least 0"),
    ("--batch-size", "0", "--batch-size must be at least 1"),
    ("--dropout", "1.5", "--dropout must be in [0, 1)"),
    ("--split", "0.5,0.5,0.5", "add up to 1.5"),
])
def test_nonsense_training_options(tiny_file, tmp_path, capsys, option, value, message):
    assert_user_error(capsys, message, "train", tiny_file, "--out", tmp_path / "o", option, value)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("argv, message", [
    (["sample", "{run}", "--temperature", "-0.5"], "--temperature must be >= 0"),
    (["sample", "{run}", "--top-p", "1.5"], "--top-p must be in (0, 1]"),
    (["sample", "{run}", "--top-p", "0"], "--top-p must be in (0, 1]"),
    (["sample", "{run}", "--prefix", "é"], "character 'é' in the prefix is not in"),
    (["score", "{run}", "ann", "b0b"], "character '0' in the item 'b0b'"),
    (["sample", "{run}", "-n", "0"], "--num-samples must be at least 1"),
])
def test_nonsense_sampling_and_scoring(run_dir, capsys, argv, message):
    assert_user_error(capsys, message, *[a.format(run=run_dir) for a in argv])


def test_greedy_temperature_zero_works(run_dir, capsys):
    assert main(["sample", str(run_dir), "--temperature", "0", "-n", "3", "--plain"]) == 0
    first, *rest = capsys.readouterr().out.splitlines()
    assert rest == [first, first]


def test_broken_run_directories(run_dir, tmp_path, capsys):
    assert_user_error(capsys, "no such run directory", "eval", tmp_path / "missing")
    half = tmp_path / "half"
    half.mkdir()
    (half / "config.json").write_text((run_dir / "config.json").read_text())
    assert_user_error(capsys, "vocab.json: missing", "eval", half)
    config = json.loads((run_dir / "config.json").read_text())
    (run_dir / "config.json").write_text(json.dumps({**config, "format_version": 99}))
    assert_user_error(capsys, "written by a newer nnlm (format 99", "eval", run_dir)
    bad_type = {**config, "model": {**config["model"], "n_hidden": "many"}}
    (run_dir / "config.json").write_text(json.dumps(bad_type))
    assert_user_error(capsys, "n_hidden = 'many' is not a valid int", "eval", run_dir)
    (run_dir / "config.json").write_text(json.dumps({**config, "model": {**config["model"],
                                                                         "n_hidden": 17}}))
    assert_user_error(capsys, "do not match config.json", "eval", run_dir)
    (run_dir / "config.json").write_text(json.dumps(config))
    splits = json.loads((run_dir / "splits.json").read_text())
    (run_dir / "splits.json").write_text(json.dumps({**splits, "dev": [1, 2]}))
    assert_user_error(capsys, "lists of strings", "eval", run_dir)


def test_crafted_generator_state_is_refused(run_dir, capsys):
    tensors, meta = rundir.load_tensors(run_dir / "checkpoint.safetensors")
    tensors["rng.torch"] = torch.zeros(3, dtype=torch.float32)
    rundir.save_tensors(run_dir / "checkpoint.safetensors", tensors, meta)
    assert_user_error(capsys, "rng.torch is not a random-generator state", "train", "--resume",
                      "--out", run_dir, "--steps", "80")


def test_crafted_pickle_never_runs(run_dir, tmp_path, capsys):
    marker = tmp_path / "code-ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (run_dir / "model.safetensors").write_bytes(pickle.dumps(Payload()))
    (run_dir / "checkpoint.safetensors").write_bytes(pickle.dumps(Payload()))
    assert_user_error(capsys, "not a readable safetensors file", "sample", run_dir)
    assert_user_error(capsys, "not a readable safetensors file", "train", "--resume",
                      "--out", run_dir, "--steps", "80")
    assert not marker.exists()


def test_second_training_on_the_same_run_is_refused(run_dir, capsys):
    with locked(run_dir):
        assert_user_error(capsys, "another training is using this run directory", "train", "--resume",
                          "--out", run_dir, "--steps", "80")


def test_overwriting_a_run_in_training_is_refused_and_deletes_nothing(run_dir, tiny_file, capsys):
    before = {p.name: p.read_bytes() for p in Path(run_dir).iterdir() if p.is_file()}
    with locked(run_dir):
        assert_user_error(capsys, "another training is using this run directory", "train", tiny_file,
                          "--out", run_dir, "--overwrite", "--steps", "5")
    after = {p.name: p.read_bytes() for p in Path(run_dir).iterdir() if p.is_file()}
    assert "config.json" in after and after == before


def test_sigterm_saves_a_checkpoint_and_resume_continues(tiny_file, tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "nnlm", "train", str(tiny_file), "--out",
                             str(run), *TINY, "--steps", "1000000", "--log-interval", "5"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = run / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (metrics.exists() and '"train_loss"' in metrics.read_text()):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "interrupted by SIGTERM" in out and "--resume" in out and "Traceback" not in err
    step = rundir.load_tensors(run / "checkpoint.safetensors")[1]["step"]
    assert step > 0
    assert main(["train", "--resume", "--out", str(run), "--steps", str(step + 20), "--quiet",
                 "--samples", "0"]) == 0
    assert rundir.load_tensors(run / "checkpoint.safetensors")[1]["step"] == step + 20


@settings(max_examples=200, deadline=None)
@given(n=st.integers(3, 3000), seed=st.integers(0, 10**6),
       train=st.floats(0.05, 0.9), dev=st.floats(0.05, 0.5))
def test_split_sizes_property(n, seed, train, dev):
    test = 1.0 - train - dev
    assume(test >= 0)
    items = [str(i) for i in range(n)]
    too_few = int(train * n) == 0 or int((1.0 - test) * n) == int(train * n)
    if too_few:  # the only refusal: no train item, or no dev item
        with pytest.raises(NnlmError, match="too few"):
            split_items(items, seed, (train, dev, test))
        return
    split = split_items(items, seed, (train, dev, test))
    assert len(split.train) == int(train * n)
    assert sorted(split.train + split.dev + split.test) == sorted(items)
    assert split.train == split_items(items, seed, (train, dev, test)).train
