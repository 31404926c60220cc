import json
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from helpers import WORD_TRAIN, run_ok
from nnlm.cli import main
from nnlm.data.windows import StreamWindows, Windows
from nnlm.data.words import UNK_ID, WordVocab, pieces, read_corpus, split_corpus


def write(tmp_path, text):
    path = tmp_path / "c.txt"
    path.write_text(text)
    return path


def test_tokens_keep_case_and_punctuation_unless_lowercased(tmp_path):
    path = write(tmp_path, "The cat, the CAT .\n\n  the cat !\n")
    corpus = read_corpus(path)
    assert corpus.words == ["The", "cat,", "the", "CAT", ".", "cat", "!"]
    assert corpus.line_lengths().tolist() == [5, 3]  # blank line skipped
    lower = read_corpus(path, lowercase=True)
    assert lower.words == ["the", "cat,", "cat", ".", "!"]
    vocab, _ = split_corpus(lower, mode="stream", min_count=0, split_tokens=(6, 1),
                            lowercase=True)
    assert vocab.encode("THE Cat") == vocab.encode("the cat")


def test_rare_words_become_unk_at_the_threshold(tmp_path):
    # a x4, b x3, c x1 in train; K = 3 keeps only a ("seen <= 3 times" is <unk>)
    path = write(tmp_path, "a b a c\na b a b\nz z z z\n")
    vocab, split = split_corpus(read_corpus(path), mode="stream", min_count=3, split_tokens=(8, 4))
    assert vocab.words == ["a"] and len(vocab) == 3  # boundary, <unk>, a
    assert split.train.ids.tolist() == [2, UNK_ID, 2, UNK_ID, 2, UNK_ID, 2, UNK_ID]
    assert split.dev.ids.tolist() == [UNK_ID] * 4  # z is not in the training counts
    vocab_all, _ = split_corpus(read_corpus(path), mode="stream", min_count=3, vocab_from="all",
                                split_tokens=(8, 4))
    assert vocab_all.words == ["a", "z"]  # counted over all the data, most frequent first
    vocab0, _ = split_corpus(read_corpus(path), mode="stream", min_count=0, split_tokens=(8, 4))
    assert vocab0.words == ["a", "b", "c"] and vocab0.decode(vocab0.encode("c a q")) == "c a <unk>"
    assert WordVocab.from_json(json.loads(json.dumps(vocab.to_json()))) == vocab


def test_contiguous_splits_by_token_counts(tmp_path):
    path = write(tmp_path, "w1 w2 w3\nw4 w5\nw6 w7 w8 w9\nw10\n")
    corpus = read_corpus(path)
    _, stream = split_corpus(corpus, mode="stream", min_count=0, split_tokens=(4, 3))
    assert (len(stream.train), len(stream.dev), len(stream.test)) == (4, 3, 3)
    _, sent = split_corpus(corpus, mode="sentence", min_count=0, split_tokens=(4, 3))
    # a sentence is never cut: the cuts move to the next line start
    assert sent.train.lengths.tolist() == [3, 2] and sent.dev.lengths.tolist() == [4]
    assert sent.test.lengths.tolist() == [1]
    with pytest.raises(Exception, match="asks for 11 tokens"):
        split_corpus(corpus, mode="stream", min_count=0, split_tokens=(8, 3))


def test_stream_windows_run_across_line_ends_and_pad_the_start():
    w = StreamWindows(torch.tensor([5, 6, 7, 8], dtype=torch.int32), 3)
    X, Y = w.tensors()
    assert X.tolist() == [[0, 0, 0], [0, 0, 5], [0, 5, 6], [5, 6, 7]] and Y.tolist() == [5, 6, 7, 8]


def test_windows_from_ids_match_windows_of_items(names):
    vocab = WordVocab(["a", "b", "c"])
    items = ["a b", "c", "b b a c"]
    ids = torch.tensor([i for it in items for i in vocab.encode(it)])
    lengths = torch.tensor([len(vocab.encode(it)) for it in items])
    X1, Y1 = Windows(items, vocab, 2).tensors()
    X2, Y2 = Windows.from_ids(ids, lengths, 2).tensors()
    assert torch.equal(X1, X2) and torch.equal(Y1, Y2) and len(Y1) == 2 + 1 + 4 + 3


@given(st.text(alphabet=st.sampled_from("ab \t\u00a0\u2028\x1c"), max_size=60),
       st.integers(1, 8))
def test_long_lines_are_read_in_pieces_that_keep_every_word(line, size):
    parts = list(pieces(line, size))
    assert "".join(parts) == line
    assert [w for part in parts for w in part.split()] == line.split()


def test_word_level_cli_sentence_mode(sentences, tmp_path, capsys):
    out = tmp_path / "run"
    printed = run_ok(capsys, "train", sentences, "--out", out, "--tokens", "word", *WORD_TRAIN)
    assert "samples:" in printed
    config = json.loads((out / "config.json").read_text())
    assert config["data"]["tokens"] == "word" and config["source"]["kind"] == "sentences"
    assert len(config["source"]["sha256"][str(sentences.resolve())]) == 64
    assert not (out / "splits.json").exists()
    assert json.loads((out / "vocab.json").read_text())["level"] == "word"
    ev = json.loads(run_ok(capsys, "eval", out, "--split", "test", "--json"))
    scores = [json.loads(s) for s in run_ok(capsys, "score", out, "Emma met Ava .", "Zed ran .",
                                         "--json").splitlines()]
    assert [t["token"] for t in scores[0]["tokens"]] == ["Emma", "met", "Ava", ".", "<e>"]
    assert scores[1]["tokens"][0]["token"] == "<unk>"
    samples = [json.loads(s) for s in run_ok(capsys, "sample", out, "-n", 5, "--seed", 1, "--json",
                                          "--max-len", 12).splitlines()]
    assert len(samples) == 5 and all(len(s["text"].split()) <= 12 for s in samples)
    mixed = json.loads(run_ok(capsys, "eval", out, "--split", "test", "--mix-order", 3, "--json"))
    assert 0 <= mixed["mix"]["weight"] <= 1 and mixed["mix"]["test"]["tokens"] == ev["tokens"]
    # tuned on dev: on dev the mixture is no worse than the MLP alone (weight 1 is a candidate)
    dev = json.loads(run_ok(capsys, "eval", out, "--mix-order", 3, "--json"))
    assert dev["mix"]["dev"]["loss"] <= dev["loss"] + 1e-9
    given = json.loads(run_ok(capsys, "eval", out, "--mix-order", 3, "--mix-weight", 1, "--json"))
    assert math.isclose(given["mix"]["dev"]["loss"], given["loss"], rel_tol=1e-6)
    sentences.write_text(sentences.read_text() + "One more .\n")
    assert main(["eval", str(out)]) == 2
    assert "changed since the run was trained" in capsys.readouterr().err


def test_word_level_cli_stream_mode_and_ngram(sentences, tmp_path, capsys):
    out = tmp_path / "stream"
    run_ok(capsys, "train", sentences, "--out", out, "--model", "mlp", "--tokens", "word", "--kind", "text",
           "--no-line-ends",
           "--split-tokens", "2000,400", "--lr-schedule", "inverse", "--lr-decay", "1e-4", *WORD_TRAIN)
    ev = json.loads(run_ok(capsys, "eval", out, "--json"))
    assert ev["tokens"] == 400  # exactly the dev tokens: no end tokens in a stream
    samples = run_ok(capsys, "sample", out, "-n", 3, "--max-len", 7, "--plain", "--seed", 0)
    assert [len(s.split()) for s in samples.splitlines()] == [7, 7, 7]
    score = json.loads(run_ok(capsys, "score", out, "Emma met Ava .", "--json"))
    assert len(score["tokens"]) == 4  # no end token
    report = json.loads(run_ok(capsys, "ngram", sentences, "--tokens", "word", "--no-line-ends", "--kind",
                               "text", "--split-tokens", "2000,400", "--order", 3, "--min-count",
                               1, "--sample", 2, "--arpa", tmp_path / "w.arpa", "--json"))
    assert report["dev"]["tokens"] == 400 and len(report["samples"]) == 2
    assert (tmp_path / "w.arpa").read_text().startswith("\\data\\")
