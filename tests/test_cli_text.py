"""Running text end to end: every command on a run trained on a text (an LSTM, chosen from the
data), and the word level of a text whose line ends are tokens."""

import json
import math

import pytest

import nnlm
from helpers import FIXTURES, run_error, run_ok
from nnlm.cli import main

TEXT = FIXTURES / "verse20k.txt"
TINY_LSTM = ["--n-hidden", "32", "--n-embd", "16", "--block-size", "32", "--batch-size", "512",
             "--precision", "fp32", "--quiet", "--samples", "0"]
CHARS = ["--tokens", "char"]  # running text's default is subwords; these tests read every character


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("text") / "run"
    assert main(["train", str(TEXT), "--out", str(out), "--steps", "30", "--eval-interval", "10",
                 *CHARS, *TINY_LSTM]) == 0
    return out


def test_train_reads_text_and_chooses_a_sequence_model(tmp_path, capsys):
    printed = run_ok(capsys, "train", TEXT, "--out", tmp_path / "r", "--steps", 10, *TINY_LSTM)
    assert "verse20k.txt read as running text: 2" in printed and "blank" in printed
    assert "running text: an LSTM" in printed and "running text: subword tokens" in printed
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["model"]["family"] == "lstm" and config["data"]["kind"] == "text"
    assert config["data"]["tokens"] == "bpe" and (tmp_path / "r" / "tokenizer.json").exists()
    assert config["source"]["kind"] == "text" and 4_000 < config["source"]["tokens"]["train"] < 10_000
    chars = run_ok(capsys, "train", TEXT, "--out", tmp_path / "c", "--steps", 2, *CHARS, *TINY_LSTM)
    assert "subword" not in chars
    assert json.loads((tmp_path / "c" / "config.json").read_text())["source"]["tokens"]["train"] == 16_000
    assert not (tmp_path / "r" / "splits.json").exists()  # the text is re-read (sha256 checked)


def test_eval_gives_bits_per_character_over_every_character(text_run, capsys):
    report = json.loads(run_ok(capsys, "eval", text_run, "--split", "test", "--json", "--no-mix"))
    assert report["tokens"] == report["characters"] == 2_000  # the last 10% of 20,000 characters
    assert math.isclose(report["bits_per_char"], report["loss"] / math.log(2), rel_tol=1e-9)
    printed = run_ok(capsys, "eval", text_run, "--split", "test")
    assert "bits/character" in printed


def test_sample_continues_the_prefix_and_prints_it_as_drawn(text_run, capsys):
    printed = run_ok(capsys, "sample", text_run, "--prefix", "ROMEO:\n", "--max-len", 60, "--seed", 3)
    assert printed.startswith("ROMEO:\n") and len(printed) == 60 + 1  # and the final line end
    again = nnlm.load(text_run, device="cpu").sample(1, prefix="ROMEO:\n", max_len=60, seed=3)[0].text
    assert printed[:-1] == again  # printed as it was drawn, the same text
    many = run_ok(capsys, "sample", text_run, "-n", 3, "--max-len", 20, "--seed", 1, "--json")
    assert [len(json.loads(line)["text"]) for line in many.splitlines()] == [20, 20, 20]
    assert all(json.loads(line)["novelty"] is None for line in many.splitlines())


def test_score_spells_line_ends_and_counts_no_end_token(text_run, capsys):
    scored = json.loads(run_ok(capsys, "score", text_run, "ROMEO:\nHi", "--json"))
    assert [t["token"] for t in scored["tokens"]] == list("ROMEO:") + ["\\n", "H", "i"]
    assert "is not in the model's vocabulary" in run_error(capsys, "score", text_run, "ROMEO: \u263a")


def test_ngram_plot_neighbors_resume_on_text(text_run, tmp_path, capsys):
    report = json.loads(run_ok(capsys, "ngram", TEXT, "--order", 5, "--json", *CHARS))
    assert report["dev"]["tokens"] == 2_000 and report["order"] == 5  # the same stream as the run's
    pytest.importorskip("matplotlib")
    assert "embedding_map.png" in run_ok(capsys, "plot", text_run)
    assert len(run_ok(capsys, "neighbors", text_run, "\\n", "-k", 3).splitlines()) == 3
    copy = tmp_path / "copy"
    import shutil
    shutil.copytree(text_run, copy)
    run_ok(capsys, "train", "--resume", "--out", copy, "--steps", 40, "--quiet", "--samples", 0)
    assert json.loads((copy / "summary.json").read_text())["step"] == 40


def test_lr_find_and_sweep_on_text(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    printed = run_ok(capsys, "lr-find", TEXT, "--out", tmp_path / "lr.png", "--steps", 20,
                     "--n-hidden", 16, "--n-embd", 8, "--block-size", 16, "--batch-size", 256)
    assert "suggested lr" in printed
    run_ok(capsys, "sweep", TEXT, "--out", tmp_path / "sweep", "--grid", "n_hidden=16,24", "--set",
           "n_embd=8", "block_size=16", "batch_size=256", "precision=fp32", "--seconds", 1)
    assert (tmp_path / "sweep" / "results.md").exists()


def test_word_level_text_keeps_line_ends_and_a_marked_vocabulary(tmp_path, capsys):
    """A text whose rare words are already <unk> (PTB's layout): every word kept, and one
    line end token per line, counted and predicted."""
    lines = [f"the {w} sat on the mat <unk> ." for w in ("cat", "dog", "cow", "hen")] * 60
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "words"
    printed = run_ok(capsys, "train", path, "--out", out, "--tokens", "word", "--kind", "text", "--steps", 5,
                     *TINY_LSTM)
    assert "marks its own rare words with <unk>: every word is kept" in printed
    vocab = json.loads((out / "vocab.json").read_text())["words"]
    assert set(vocab) == {"the", "cat", "dog", "cow", "hen", "sat", "on", "mat", ".", "\n"}
    tokens = json.loads((out / "config.json").read_text())["source"]["tokens"]
    assert sum(tokens.values()) == 240 * 9  # 8 words and a line end a line
    text = nnlm.load(out, device="cpu").sample(1, max_len=30, seed=0)[0].text
    assert " \n" not in text and "\n " not in text  # line ends without spaces around them


def test_one_long_line_without_a_line_end_is_running_text(tmp_path, capsys):
    path = tmp_path / "one.txt"
    path.write_text("to be or not to be, " * 50_000)  # 1 MB, no line end at all
    printed = run_ok(capsys, "train", path, "--out", tmp_path / "r", "--steps", 3, "--no-mix", *CHARS,
                     *TINY_LSTM)
    assert "read as running text: it is one line" in printed
    tokens = json.loads((tmp_path / "r" / "config.json").read_text())["source"]["tokens"]
    assert sum(tokens.values()) == 1_000_000
