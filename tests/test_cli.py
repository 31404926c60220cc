import json
import math
import subprocess
import sys

import pytest

from helpers import TINY_TRAIN, run_error, run_ok
from nnlm.cli import main


@pytest.fixture
def run_dir(tiny_file, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", str(tiny_file), "--out", str(out), *TINY_TRAIN]) == 0
    printed = capsys.readouterr().out
    assert f"run directory: {out}" in printed and "dev" in printed and "samples:" in printed
    return out


def test_sample_controls(run_dir, capsys):
    out = run_ok(capsys, "sample", run_dir, "-n", 30, "--seed", 3, "--prefix", "ma",
                 "--min-len", 4, "--max-len", 8, "--json")
    samples = [json.loads(line) for line in out.splitlines()]
    assert len(samples) == 30
    assert all(s["text"].startswith("ma") and 4 <= len(s["text"]) <= 8 for s in samples)
    assert {s["novelty"] for s in samples} <= {"new", "train", "dev", "test"}
    again = run_ok(capsys, "sample", run_dir, "-n", 30, "--seed", 3, "--prefix", "ma",
                   "--min-len", 4, "--max-len", 8, "--json")
    assert again == out
    plain = run_ok(capsys, "sample", run_dir, "-n", 25, "--unique", "--new-only", "--plain",
                   "--seed", 1, "--top-k", 10, "--top-p", 0.9, "--temperature", 0.8)
    items = plain.split("\n")[:-1]
    assert len(items) == len(set(items)) == 25
    train = set(json.loads((run_dir / "splits.json").read_text())["train"])
    assert not train & set(items)


def test_eval_and_score_agree(run_dir, tiny_file, capsys):
    result = json.loads(run_ok(capsys, "eval", run_dir, "--split", "test", "--json"))
    assert result["tokens"] > 0 and math.isclose(result["perplexity"], math.exp(result["loss"]))
    assert math.isclose(result["bits_per_token"], result["loss"] / math.log(2))
    test_items = json.loads((run_dir / "splits.json").read_text())["test"]
    scores = [json.loads(line) for line in run_ok(capsys, "score", run_dir, *test_items,
                                                  "--json").splitlines()]
    assert [s["item"] for s in scores] == test_items
    assert all(len(s["tokens"]) == len(s["item"]) + 1 for s in scores)  # + the end token
    assert all(math.isclose(s["logprob"], sum(t["logprob"] for t in s["tokens"]))
               for s in scores)
    total = -sum(s["logprob"] for s in scores)
    assert math.isclose(total / result["tokens"], result["loss"], rel_tol=1e-5)
    text = run_ok(capsys, "eval", run_dir, tiny_file)
    assert "nats/token" in text and "perplexity" in text


def test_user_errors_are_one_line_exit_2(run_dir, tiny_file, tmp_path, capsys):
    assert "not in the model's vocabulary" in run_error(capsys, "score", run_dir, "x#y")
    assert "not in the model's vocabulary" in run_error(capsys, "sample", run_dir, "--prefix", "Q!")
    assert "no such run directory" in run_error(capsys, "sample", tmp_path / "nope")
    assert "config.json: missing" in run_error(capsys, "eval", tmp_path)
    assert "no such file" in run_error(capsys, "train", tmp_path / "missing.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert "empty" in run_error(capsys, "train", empty, "--out", tmp_path / "e")
    assert not (tmp_path / "e").exists()  # nothing written for bad input
    assert "--block-size must be at least 1" in run_error(
        capsys, "train", tiny_file, "--out", tmp_path / "b", "--block-size", "0")
    assert "--lr must be positive" in run_error(capsys, "train", tiny_file, "--lr", "-1")
    assert "--temperature" in run_error(capsys, "sample", run_dir, "--temperature", "-1")
    assert "--top-p" in run_error(capsys, "sample", run_dir, "--top-p", "0")
    assert "invalid int" in run_error(capsys, "train", "--steps", "many")
    assert "already holds a run" in run_error(capsys, "train", tiny_file, "--out", run_dir)


def test_resume_continues_to_more_steps(run_dir, capsys):
    out = run_ok(capsys, "train", "--resume", "--out", run_dir, "--steps", "80", "--quiet",
                 "--samples", "0")
    assert "at step 80" in out
    steps = [json.loads(x)["step"] for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(steps) and steps[-1] == 80


def test_module_and_console_script_entry_points(run_dir):
    for cmd in ([sys.executable, "-m", "nnlm"], ["nnlm"]):
        proc = subprocess.run([*cmd, "sample", str(run_dir), "-n", "2", "--plain", "--seed", "0"],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert len(proc.stdout.splitlines()) == 2


def test_every_preset_holds_only_settings_of_its_family():
    from nnlm.models import FAMILIES
    from nnlm.settings import settings_of
    from nnlm.settings.training import TrainConfig

    for fam in FAMILIES.values():
        allowed = {s.name for s in settings_of(fam.config) + settings_of(TrainConfig)}
        for name, preset in fam.presets.items():
            assert set(preset) <= allowed, (fam.name, name, set(preset) - allowed)


def test_settings_of_another_family_and_of_resume_are_refused(tiny_file, tmp_path, capsys):
    err = run_error(capsys, "train", tiny_file, "--model", "hierarchical", "--tie")
    assert "--tie is a setting of --model mlp, rnn, gru, lstm, transformer, not of --model hierarchical" \
        in err
    assert "unknown preset 'lecture' for --model hierarchical" in run_error(
        capsys, "train", tiny_file, "--model", "hierarchical", "--preset", "lecture")
    assert "'n_head' is not a setting" in run_error(capsys, "sweep", tiny_file, "--out", tmp_path / "s",
                                                     "--grid", "n_head=2,4")


@pytest.mark.parametrize("argv", [["--help"], ["--version"]])
def test_help_and_version_do_not_import_torch(argv):
    """`nnlm --help` answers at once: neither the package nor the parser imports PyTorch."""
    code = ("import sys\nfrom nnlm.cli import main\ntry:\n    main(sys.argv[1:])\n"
            "except SystemExit:\n    pass\nassert 'torch' not in sys.modules, 'torch was imported'")
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "usage: nnlm" in done.stdout or done.stdout.startswith("nnlm ")


def options_of(parser):
    """(command, the options and positionals its help shows) for nnlm and every subcommand."""
    import argparse

    yield "nnlm", [a for a in parser._actions if a.help is not argparse.SUPPRESS]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield name, [a for a in sub._actions if a.help is not argparse.SUPPRESS]


def test_every_option_of_every_command_has_help_and_says_its_default():
    from nnlm.cli import COMMANDS, Formatter, build_parser

    parser = build_parser()
    seen = set()
    for command, actions in options_of(parser):
        seen.add(command)
        formatter = Formatter(command)
        for action in actions:
            if action.option_strings == ["-h"] or action.option_strings[:1] in (["-h"], ["--version"]):
                continue
            text = formatter._get_help_string(action)
            assert text, f"nnlm {command} {action.option_strings or action.dest}: no help"
            if action.option_strings:
                assert "(default" in text or action.required, f"{command} {action.option_strings}: {text!r}"
    assert seen == {"nnlm", *COMMANDS}


def test_standard_input_for_train_eval_and_score(run_dir, tiny_file, tmp_path):
    def nnlm(*argv, stdin: bytes = b""):
        done = subprocess.run([sys.executable, "-m", "nnlm", *map(str, argv)], input=stdin,
                              capture_output=True, timeout=300)
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode()

    piped = [json.loads(line) for line in nnlm("score", run_dir, "-", "--json", stdin=b"emma\nolivia\n")
             .splitlines()]
    given = [json.loads(line) for line in nnlm("score", run_dir, "emma", "olivia", "--json").splitlines()]
    assert piped == given and [s["item"] for s in piped] == ["emma", "olivia"]
    items = tmp_path / "items.txt"
    items.write_text("emma\n\nolivia\n")
    assert [json.loads(line) for line in nnlm("score", run_dir, "--file", items, "--json").splitlines()] \
        == given
    from_file = json.loads(nnlm("eval", run_dir, tiny_file, "--json"))
    from_stdin = json.loads(nnlm("eval", run_dir, "-", "--json", stdin=tiny_file.read_bytes()))
    assert from_stdin["loss"] == from_file["loss"] and from_stdin["data"].startswith("standard input (")
    out = tmp_path / "piped"
    nnlm("train", "-", "--out", out, *TINY_TRAIN, stdin=tiny_file.read_bytes())
    assert (out / "input.txt").read_bytes() == tiny_file.read_bytes()
    assert json.loads((out / "config.json").read_text())["data"]["path"] == str((out / "input.txt").resolve())


def test_earlier_spellings_still_work(run_dir, tiny_file, tmp_path, capsys):
    assert len(run_ok(capsys, "sample", run_dir, "--num", 3, "--plain", "--seed", 1).splitlines()) == 3
    out = run_ok(capsys, "sample", run_dir, "--num-samples", 3, "--plain", "--seed", 1)
    assert len(out.splitlines()) == 3
    def samples(out):  # (the report says how long the fit took: only the samples are the same)
        return [line for line in out.splitlines() if line.startswith("  ")]

    out = run_ok(capsys, "ngram", tiny_file, "--order", 2, "--sample", 4, "--seed", 0)
    assert len(samples(out)) == 4
    assert samples(out) == samples(run_ok(capsys, "ngram", tiny_file, "--order", 2, "-n", 4, "--seed", 0))
    trained = run_ok(capsys, "train", tiny_file, "--out", tmp_path / "r", *TINY_TRAIN[:-2], "--samples", 2)
    assert len(trained.split("samples:")[1].strip().splitlines()) == 2


def test_a_usage_mistake_shows_the_usage_line(capsys):
    assert main(["train", "--lr", "0"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == ["usage: nnlm train [DATA ...] [options]",
                     "nnlm train: error: --lr must be positive, got 0.0"]
