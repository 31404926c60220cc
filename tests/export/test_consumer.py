"""examples/onnx_consumer.py, which needs numpy and onnxruntime alone: its BPE is the run's
tokenizer's, its scores are `nnlm score --no-mix`'s, its greedy samples `nnlm sample --temperature 0
--no-mix`'s; and (slow) all of that in a virtual environment holding numpy and onnxruntime only."""

import json
import subprocess
import sys

import pytest

import nnlm
from helpers import ROOT, VERSE, run_ok

CONSUMER = ROOT / "examples" / "onnx_consumer.py"
# a list (characters, words) and running text (BPE subwords); the transformer's text within its block
SCORED = [("mlp", "char", "emma"), ("transformer", "char", "olivia"), ("lstm", "bpe", "And the sun.\n"),
          ("transformer", "bpe", "Thou art"), ("bow", "word", "Emma met Olivia .")]
ODD_TEXT = ("Ünïcödé — ½ ² ³ 一二三 four\u00a0five\u2028six x\x1c\x1dy\t\t\n\n  'll 've 're 'd "
            "é\u0301 🙂🙂 ١٢٣ Ⅷ  end ")  # odd letters, numbers and whitespace, 4-byte characters


def consumer_score(consumer, folder, text, capsys) -> float:
    consumer.main(["score", str(folder), text])
    return float(capsys.readouterr().out.splitlines()[-1])


def nnlm_score(capsys, run, text) -> float:
    return json.loads(run_ok(capsys, "score", run, text, "--no-mix", "--json"))["logprob"]


@pytest.mark.parametrize("family, level, text", SCORED)
def test_the_consumer_scores_as_nnlm_score(family, level, text, trained, exported, consumer, capsys):
    ours = consumer_score(consumer, exported(family, level), text, capsys)
    assert ours == pytest.approx(nnlm_score(capsys, trained(family, level), text), abs=1e-3) and ours < -1


def test_its_bpe_is_the_runs_tokenizer(trained, exported, consumer):
    folder = exported("lstm", "bpe")
    tokens = consumer.Tokens(folder, json.loads((folder / "card.json").read_text()))
    lm = nnlm.load(trained("lstm", "bpe"), mix=False)
    for text in (VERSE.read_text(), ODD_TEXT, ODD_TEXT * 3 + VERSE.read_text()[:500]):
        ids = tokens.encode(text)
        assert ids == lm.source.encode(text, "the text") and tokens.decode(ids) == text


@pytest.mark.parametrize("family, level, prefix", [("mlp", "char", "ma"), ("lstm", "bpe", "And the")])
def test_its_greedy_samples_are_nnlms(family, level, prefix, trained, exported, consumer, capsys):
    consumer.main(["sample", str(exported(family, level)), "-n", "3", "--temperature", "0",
                   "--prefix", prefix, "--max-len", "20"])
    ours = capsys.readouterr().out.splitlines()
    out = run_ok(capsys, "sample", trained(family, level), "--temperature", 0, "--no-mix", "--prefix", prefix,
                 "-n", 1, "--max-len", 20, "--json")
    expected = consumer.one_line(json.loads(out.splitlines()[0])["text"])
    assert ours == [expected] * 3 and len(expected) > len(prefix)


def test_every_batch_of_samples_is_read_from_the_start(exported, consumer, capsys, monkeypatch):
    starts, sample = [], consumer.sample
    monkeypatch.setattr(consumer, "BATCH", 3)  # 7 samples: batches of 3, 3 and 1
    monkeypatch.setattr(consumer, "sample", lambda *args: starts.append(args[-1]) or sample(*args))
    consumer.main(["sample", str(exported("mlp", "char")), "-n", "7", "--seed", "1"])
    assert len(capsys.readouterr().out.splitlines()) == 7
    assert starts == [0, 0, 0]  # each batch from the boundary (a labelled run: its label's id)


def test_a_seed_gives_the_same_samples(exported, consumer, capsys):
    folder = str(exported("transformer", "char"))
    draws = []
    for seed in ("1", "1", "2"):
        consumer.main(["sample", folder, "-n", "50", "--seed", seed, "--max-len", "30"])
        draws.append(capsys.readouterr().out.splitlines())
    assert len(draws[0]) == 50 and draws[0] == draws[1] != draws[2]
    assert max(map(len, draws[0])) <= 30 and sum(map(len, draws[0])) > 50  # items of the run's characters
    vocab = json.loads((exported("transformer", "char") / "vocab.json").read_text())
    assert set("".join(draws[0])) <= set(vocab["tokens"][1:])


@pytest.mark.slow
def test_the_consumer_needs_numpy_and_onnxruntime_alone(trained, exported, tmp_path, capsys):
    """A virtual environment with numpy and onnxruntime only (from the package registry): the same
    scores as `nnlm score --no-mix` for a list run and a running-text run, and samples."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", "numpy", "onnxruntime"], check=True)
    assert subprocess.run([python, "-c", "import torch"], capture_output=True).returncode != 0
    assert subprocess.run([python, "-c", "import nnlm"], capture_output=True, cwd=tmp_path).returncode != 0
    for family, level, text in (SCORED[0], SCORED[2]):
        folder = exported(family, level)
        out = subprocess.run([python, str(CONSUMER), "score", str(folder), text], capture_output=True,
                             text=True, check=True, cwd=tmp_path).stdout
        assert float(out.splitlines()[-1]) == pytest.approx(nnlm_score(capsys, trained(family, level), text),
                                                            abs=1e-3)
        out = subprocess.run([python, str(CONSUMER), "sample", str(folder), "-n", "5", "--temperature", "0.8",
                              "--seed", "0"], capture_output=True, text=True, check=True, cwd=tmp_path).stdout
        assert len(out.splitlines()) == 5 and sum(map(len, out.splitlines())) > 5
