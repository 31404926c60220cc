"""Subword tokens: a byte-level BPE trained on the train split, exact round trips, bits per
character on every report, and a tokenizer file that must not change."""

import json
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import nnlm
from helpers import VERSE, run_error, run_ok
from nnlm.data.bpe import BPEVocab, auto_vocab_size, pieces_of, train_bpe
from nnlm.data.sources import read_source
from nnlm.settings.data import DataConfig

TINY = ["--n-hidden", "16", "--n-embd", "8", "--block-size", "16", "--batch-size", "256", "--precision",
        "fp32", "--quiet", "--samples", "0"]


@settings(max_examples=80, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_any_text_round_trips_exactly(vocab, text):
    """Whitespace, emoji, CJK, combining marks, characters the tokenizer never saw: bytes."""
    assert vocab.decode(vocab.encode(text)) == text
    assert vocab.decode(vocab.encode_array(text).tolist()) == text


def test_long_texts_are_encoded_in_pieces_cut_where_the_tokenizer_cuts(vocab):
    text = VERSE.read_text() * 3
    assert "".join(pieces_of(text, size=1000)) == text
    assert vocab.encode_array(text).tolist() == vocab.encode(text)  # the pieces change no token


def test_a_file_is_encoded_a_read_piece_at_a_time_as_if_whole(vocab, monkeypatch):
    """encode_part reads a file in pieces (8 MB; here 997 characters) and carries what
    follows each piece's last safe cut into the next, so no token changes at a seam."""
    from nnlm.data import running

    text = VERSE.read_text()
    pieces = [text[i:i + 997] for i in range(0, len(text), 997)]
    monkeypatch.setattr(running, "text_pieces", lambda path: iter(pieces))
    assert running.encode_part(vocab, "verse", 0, len(text)).tolist() == vocab.encode(text)
    assert running.encode_part(vocab, "verse", 5000, 12000).tolist() == vocab.encode(text[5000:12000])


def test_the_vocabulary_size_follows_the_training_text():
    assert auto_vocab_size(1_000_000)[0] == 2_240 and auto_vocab_size(10_000_000)[0] == 6_592
    assert auto_vocab_size(100)[0] == 320  # at least one block of merges
    with pytest.raises(nnlm.NnlmError, match="vocab_size must be from 257"):
        train_bpe(["abc"], 100)


def test_trained_on_train_only_and_the_splits_join_to_the_text(tmp_path):
    source = read_source(str(VERSE), DataConfig(tokens="bpe", vocab_size=500))
    assert source.name == "text" and source.level == "bpe" and len(source.vocab) == 501
    text = VERSE.read_text()

    def decoded(split):
        windows = source.windows(split, 1)
        return source.decode(windows.targets(torch.arange(len(windows))).tolist())

    assert "".join(decoded(s) for s in ("train", "dev", "test")) == text
    assert [source.chars(s) for s in ("train", "dev", "test")] == [16_000, 2_000, 2_000]
    trained_on_all = BPEVocab(train_bpe([text], 500))
    assert source.vocab != trained_on_all  # dev and test never reach the tokenizer
    again = read_source(str(VERSE), DataConfig(tokens="bpe", vocab_size=500))
    assert again.vocab == source.vocab  # the same text, the same tokenizer


def test_a_small_list_supports_fewer_tokens_than_asked_and_says_so(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("ab\ncd\nef\nab\n" * 30)
    source = read_source(str(path), DataConfig(tokens="bpe", vocab_size=5000))
    assert len(source.vocab) < 5000 and any("supports" in n for n in source.notes)


@pytest.fixture(scope="module")
def bpe_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bpe") / "run"
    from nnlm.cli import main
    assert main(["train", str(VERSE), "--out", str(out), "--tokens", "bpe", "--vocab-size", "400", "--steps",
                 "20", *TINY]) == 0
    return out


def test_every_command_at_the_bpe_level(bpe_run, tmp_path, capsys):
    files = {p.name for p in bpe_run.iterdir()}
    assert {"tokenizer.json", "vocab.json", "config.json"} <= files
    vocab = json.loads((bpe_run / "vocab.json").read_text())
    assert vocab["level"] == "bpe" and vocab["size"] == 400 and len(vocab["sha256"]) == 64
    report = json.loads(run_ok(capsys, "eval", bpe_run, "--split", "test", "--json"))
    assert report["characters"] == 2_000 and report["tokens"] < 2_000  # fewer tokens than characters
    assert math.isclose(report["bits_per_char"], report["loss"] * report["tokens"] / math.log(2) / 2_000)
    text = run_ok(capsys, "sample", bpe_run, "--prefix", "ROMEO:\n", "--max-len", 30, "--seed", 1)
    assert text.startswith("ROMEO:\n")
    scored = json.loads(run_ok(capsys, "score", bpe_run, "ROMEO: café ☺", "--json"))
    assert "".join(t["token"] for t in scored["tokens"]).startswith("ROMEO:")  # pieces as the text they cover
    lm = nnlm.load(bpe_run, device="cpu")
    assert lm.sample(1, prefix="To be", max_len=20, seed=2)[0].text.startswith("To be")
    assert json.loads(run_ok(capsys, "ngram", VERSE, "--tokens", "bpe", "--vocab-size", 400, "--order", 3,
                             "--json"))["dev"]["tokens"] > 0
    pytest.importorskip("matplotlib")
    assert "embedding_map.png" in run_ok(capsys, "plot", bpe_run)
    assert len(run_ok(capsys, "neighbors", bpe_run, " the", "-k", 3).splitlines()) == 3
    run_ok(capsys, "train", "--resume", "--out", bpe_run, "--steps", 25, "--quiet", "--samples", 0)


def test_a_tokenizer_edited_by_hand_is_refused(bpe_run, tmp_path, capsys):
    import shutil
    copy = tmp_path / "copy"
    shutil.copytree(bpe_run, copy)
    tokenizer = json.loads((copy / "tokenizer.json").read_text())
    merges = tokenizer["model"]["merges"]
    merges[0], merges[1] = merges[1], merges[0]
    (copy / "tokenizer.json").write_text(json.dumps(tokenizer))
    assert "tokenizer.json: changed since the run was trained" in run_error(capsys, "eval", copy)
    (copy / "tokenizer.json").write_text("{not json")
    assert "tokenizer.json: not valid JSON" in run_error(capsys, "sample", copy)
