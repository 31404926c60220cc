"""Data sources: split files (--dev/--test), the character vocabulary rule, line ends."""

import json
import subprocess
import sys

import pytest

import nnlm
from helpers import ROOT, TINY_SETTINGS, run_error, run_ok
from nnlm.data.sources import read_source
from nnlm.errors import NnlmError
from nnlm.settings.data import DataConfig

SHARED = ROOT.parent / "shared"


def write(path, lines, end="\n"):
    path.write_text(end.join(lines) + end, encoding="utf-8")
    return path


def test_split_files_are_the_splits_and_every_character_is_in_the_vocabulary(tmp_path, names):
    train = write(tmp_path / "train.txt", names[:200])
    dev = write(tmp_path / "dev.txt", names[200:230] + ["San Buenaventura (Ventura)"])
    test = write(tmp_path / "test.txt", names[230:260] + ["Zoë"])
    source = read_source(str(train), DataConfig(dev=str(dev), test=str(test)))
    assert source.split.train == names[:200] and source.split.test[-1] == "Zoë"
    assert {"(", " ", "S", "ë"} <= set(source.vocab.chars)  # seen only in dev or test
    assert source.tokens()["dev"] == sum(len(s) + 1 for s in source.split.dev)
    out = tmp_path / "run"
    result = nnlm.train(str(train), str(out), progress=False, dev=str(dev), test=str(test), **TINY_SETTINGS)
    assert result.test_loss is not None and result.test_loss < 10
    config = json.loads((out / "config.json").read_text())
    assert config["data"]["dev"] == str(dev.resolve()) and config["source"]["items"]["dev"] == 31


def test_only_a_dev_file_leaves_no_test_split(tmp_path, names):
    train = write(tmp_path / "train.txt", names[:200])
    dev = write(tmp_path / "dev.txt", names[200:230])
    source = read_source(str(train), DataConfig(dev=str(dev)))
    assert source.tokens()["test"] == 0 and len(source.split.train) == 200
    with pytest.raises(NnlmError, match="replace the split"):
        read_source(str(train), DataConfig(dev=str(dev), dedupe=True))


def test_a_character_only_in_dev_or_test_never_crashes_training(tmp_path, capsys):
    cities = ["Springfield", "Riverside", "Fairview", "Madison", "Georgetown", "Salem", "Clinton"] * 40
    path = write(tmp_path / "cities.txt", [*cities, "San Buenaventura (Ventura)"])
    for seed in range(3):  # wherever the odd item falls
        run_ok(capsys, "train", path, "--out", tmp_path / f"r{seed}", "--split-seed", seed, "--quiet",
               "--samples", 0, "--steps", 5, "--n-hidden", 8)
        run_ok(capsys, "ngram", path, "--split-seed", seed, "--order", 3)


def test_eval_of_a_file_with_an_unseen_character_names_file_line_and_character(tmp_path, capsys, names):
    run = tmp_path / "run"
    nnlm.train(str(write(tmp_path / "n.txt", names[:300])), str(run), progress=False,
               **dict(TINY_SETTINGS, steps=2))
    other = write(tmp_path / "other.txt", ["anna", "", "bob", "x#y"])
    err = run_error(capsys, "eval", run, other)
    assert f"character '#' in {other}:4 is not in the model's vocabulary" in err


@pytest.mark.parametrize("end", ["\r", "\r\n", "\n"])
def test_old_mac_windows_and_unix_line_ends(tmp_path, end, names):
    path = write(tmp_path / "x.txt", names[:50], end=end)
    assert read_source(str(path), DataConfig()).tokens()["train"] == sum(
        len(s) + 1 for s in read_source(str(path), DataConfig()).split.train)
    assert len(read_source(str(path), DataConfig()).split.train) == 40


@pytest.mark.slow  # (it needs the Brown corpus beside the checkout: not a default test, which skips nothing)
@pytest.mark.skipif(not (SHARED / "data" / "brown.zip").exists(), reason="no Brown corpus")
def test_brown_line_files_give_the_ptb_token_counts(tmp_path, capsys):
    subprocess.run([sys.executable, str(SHARED / "tools" / "brown_lines.py"),
                    str(SHARED / "data" / "brown.zip"), str(tmp_path)], check=True, capture_output=True)
    files = [tmp_path / f"brown.{name}.txt" for name in ("train", "valid", "test")]
    report = json.loads(run_ok(capsys, "ngram", files[0], "--dev", files[1], "--test", files[2],
                               "--tokens", "word", "--min-count", 0, "--order", 2, "--json"))
    # words plus one end token per line
    assert report["dev"]["tokens"] == 211_691 and report["test"]["tokens"] == 171_320
