"""The run directory format: runs written by nnlm 0.1 (format 1) still load and give the
same numbers; a current run's config.json has one section per concern."""

import json
import math
import shutil
from pathlib import Path

import pytest
import torch

import nnlm
from helpers import FIXTURES, TINY_SETTINGS
from nnlm.errors import NnlmError
from nnlm.run import rundir

EXPECTED = json.loads((FIXTURES / "run_v1_expected.json").read_text())


def v1_copy(name, tmp_path) -> Path:
    """A copy of a format-1 run; a word-level run is pointed at its data file here."""
    run = tmp_path / name
    shutil.copytree(FIXTURES / name, run)
    config = json.loads((run / "config.json").read_text())
    assert config["format_version"] == 1
    if config["data"].get("level") == "word":
        shutil.copy(FIXTURES / "words200.txt", tmp_path / "words200.txt")
        config["data"]["path"] = str(tmp_path / "words200.txt")
        (run / "config.json").write_text(json.dumps(config))
    return run


def test_format_2_word_stream_loads_and_gives_the_same_numbers(tmp_path):
    """--level word --word-mode stream (format 2) reads as --tokens word --kind text --no-line-ends."""
    run = tmp_path / "run_v2_stream"
    shutil.copytree(FIXTURES / "run_v2_stream", run)
    shutil.copy(FIXTURES / "words200.txt", tmp_path / "words200.txt")
    config = json.loads((run / "config.json").read_text())
    old_path = config["data"]["path"]
    config["data"]["path"] = str(tmp_path / "words200.txt")
    config["source"]["sha256"] = {config["data"]["path"]: config["source"]["sha256"][old_path]}
    (run / "config.json").write_text(json.dumps(config))
    expected = json.loads((FIXTURES / "run_v2_expected.json").read_text())
    lm = nnlm.load(run, device="cpu")
    assert (lm.spec.data.tokens, lm.spec.data.kind, lm.spec.data.line_ends) == ("word", "text", False)
    assert lm.evaluate("dev").loss == pytest.approx(expected["dev_loss"], rel=1e-6)
    assert lm.evaluate("test").loss == pytest.approx(expected["test_loss"], rel=1e-6)
    assert [s.logprob for s in lm.score(expected["items"])] == pytest.approx(expected["scores"], rel=1e-5)
    assert [s.text for s in lm.sample(3, seed=5, max_len=6)] == expected["samples"]
    result = nnlm.train(out=str(run), resume=True, steps=50, progress=False)
    assert result.step == 50


@pytest.mark.parametrize("name", ["run_v1_char", "run_v1_word"])
def test_format_1_runs_load_and_give_the_same_numbers(name, tmp_path):
    expected = EXPECTED[name]
    lm = nnlm.load(v1_copy(name, tmp_path), device="cpu")
    assert lm.spec.family.name == "mlp"
    assert math.isclose(lm.evaluate("dev").loss, expected["dev_loss"], rel_tol=1e-6)
    assert math.isclose(lm.evaluate("test").loss, expected["test_loss"], rel_tol=1e-6)
    scores = [s.logprob for s in lm.score(expected["items"])]
    assert all(math.isclose(a, b, rel_tol=1e-5) for a, b in zip(scores, expected["scores"], strict=True))
    samples = lm.sample(5, seed=3)
    assert [s.text for s in samples] == expected["samples"]
    assert [s.novelty or "-" for s in samples] == expected["sources"]  # "-": no mark (word level)


def test_format_1_run_resumes(tmp_path):
    run = v1_copy("run_v1_char", tmp_path)
    result = nnlm.train(out=str(run), resume=True, steps=50, progress=False)
    assert result.step == 50 and result.stopped == "steps"
    assert rundir.load_tensors(run / rundir.CHECKPOINT)[1]["step"] == 50


def test_a_word_run_whose_data_file_is_gone_still_samples_and_scores(tmp_path):
    run = tmp_path / "run_v1_word"
    shutil.copytree(FIXTURES / "run_v1_word", run)  # its data path points nowhere here
    lm = nnlm.load(run, device="cpu")
    assert len(lm.sample(3, seed=0)) == 3 and lm.score(["Emma ."])[0].logprob < 0
    config = json.loads((run / "config.json").read_text())
    config["data"]["path"] = str(tmp_path / "gone.txt")
    (run / "config.json").write_text(json.dumps(config))
    with pytest.raises(NnlmError, match="gone.txt: the run's data file is gone"):
        nnlm.load(run, device="cpu").evaluate("dev")


def test_current_config_sections(tiny_file, tmp_path):
    out = tmp_path / "run"
    nnlm.train(str(tiny_file), str(out), progress=False, **TINY_SETTINGS)
    config = json.loads((out / "config.json").read_text())
    assert config["format"] == "nnlm-run" and config["format_version"] == rundir.FORMAT_VERSION == 4
    assert config["model"]["family"] == "mlp" and config["model"]["n_hidden"] == 16
    assert config["source"]["kind"] == "items"
    assert config["source"]["items"] == {"train": 240, "dev": 30, "test": 30}
    assert config["data"]["path"] == str(tiny_file.resolve())
    spec = rundir.load_spec(out)
    assert spec.source.split.dev == json.loads((out / "splits.json").read_text())["dev"]


@pytest.mark.parametrize("change, message", [
    (lambda c: c["model"].update(family="nope"), "unknown model family 'nope'"),
    (lambda c: c["model"].update(n_hidden="many"), "n_hidden = 'many' is not a valid int"),
    (lambda c: c["model"].update(bogus=1), "unknown settings ['bogus']"),
    (lambda c: c.pop("source"), "the 'source' section is missing"),
    (lambda c: c.update(format_version=True), "format_version missing"),
])
def test_bad_configs_are_one_line_errors(tiny_file, tmp_path, change, message):
    out = tmp_path / "run"
    nnlm.train(str(tiny_file), str(out), progress=False, **dict(TINY_SETTINGS, steps=2))
    config = json.loads((out / "config.json").read_text())
    change(config)
    (out / "config.json").write_text(json.dumps(config))
    with pytest.raises(NnlmError, match=message.replace("[", r"\[").replace("]", r"\]")):
        rundir.load_spec(out)


def test_a_format_3_labelled_mlp_loads_without_film_and_predicts_as_it_did(tmp_path, names):
    """Format 3 had no FiLM: its labelled MLP runs load as such (film off) and score as before."""
    files = []
    for label, part in (("a", names[:150]), ("b", names[500:650])):
        (tmp_path / f"{label}.txt").write_text("\n".join(part) + "\n")
        files.append(str(tmp_path / f"{label}.txt"))
    run = tmp_path / "run"
    nnlm.train(files, str(run), progress=False, mix=False, **{**TINY_SETTINGS, "steps": 20})
    path = run / rundir.MODEL
    tensors, meta = rundir.load_tensors(path)
    assert {"film.weight", "film.bias"} <= set(tensors)
    # what a format-3 run was: the same weights, the label an input only (FiLM at gain 1, shift 0)
    rundir.save_tensors(path, {**tensors, "film.weight": torch.zeros_like(tensors["film.weight"]),
                               "film.bias": torch.zeros_like(tensors["film.bias"])}, meta)
    before = [s.logprob for s in nnlm.load(run).score(["emma", "zoe"], "a")]
    rundir.save_tensors(path, {k: v for k, v in tensors.items() if not k.startswith("film.")}, meta)
    config = json.loads((run / "config.json").read_text())
    del config["model"]["film"]
    (run / "config.json").write_text(json.dumps({**config, "format_version": 3}))
    old = nnlm.load(run)
    assert old.model.film is None and old.model.config.film is False
    assert [s.logprob for s in old.score(["emma", "zoe"], "a")] == pytest.approx(before, abs=1e-6)
