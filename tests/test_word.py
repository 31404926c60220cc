import json
import math
import random

import numpy as np
import pytest
import torch

from nnlm import ngram
from nnlm.cli import main
from nnlm.data import Windows
from nnlm.mix import mix_logprobs, tune_weight
from nnlm.model import MLP, ModelConfig
from nnlm.words import UNK_ID, StreamWindows, WordVocab, read_corpus, split_corpus


@pytest.fixture
def sentences(tmp_path, names):
    """600 sentences of real names in a few patterns, with case and punctuation."""
    rng = random.Random(0)
    pool = names[:40]
    patterns = ["{} met {} .", "Did {} see {} ?", "{} , {} and {} sang !", "{} ran ."]
    lines = []
    for _ in range(600):
        p = rng.choice(patterns)
        lines.append(p.format(*(rng.choice(pool).capitalize() for _ in range(p.count("{}")))))
    path = tmp_path / "words.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


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


def test_mixture_is_normalised_and_has_the_right_ends(names):
    V = 12
    rng = np.random.default_rng(0)
    X, Y = rng.integers(0, V, (500, 2)), rng.integers(1, V, 500)
    kn = ngram.KneserNey(3, V).fit(X, Y)
    mlp = MLP(ModelConfig(vocab_size=V, block_size=2, n_embd=3, n_hidden=5)).eval()
    ctx = rng.integers(0, V, (20, 2))
    with torch.no_grad():
        p_mlp = torch.softmax(mlp(torch.tensor(ctx))[0].double(), -1).numpy()  # (20, V)
    p_kn = np.stack([kn.distribution(c) for c in ctx])
    for w in (0.0, 0.3, 0.5, 1.0):
        mixed = np.exp(mix_logprobs(np.log(p_mlp), np.log(p_kn), w))
        np.testing.assert_allclose(mixed.sum(1), 1.0, rtol=1e-10)
    np.testing.assert_allclose(mix_logprobs(np.log(p_mlp), np.log(p_kn), 1.0), np.log(p_mlp))
    np.testing.assert_allclose(mix_logprobs(np.log(p_mlp), np.log(p_kn), 0.0), np.log(p_kn))
    a, b = np.log(p_mlp[:, 1]), np.log(p_kn[:, 1])
    best = tune_weight(a, b)
    grid = min(np.linspace(0, 1, 1001), key=lambda w: -mix_logprobs(a, b, w).mean())
    assert abs(best - grid) < 2e-3


def test_sampled_softmax_trains_and_evaluates_exactly():
    torch.manual_seed(0)
    m = MLP(ModelConfig(vocab_size=300, block_size=2, n_embd=4, n_hidden=8, direct=True, sampled=64))
    x, y = torch.randint(0, 300, (32, 2)), torch.randint(0, 30, (32,))
    logits, loss = m(x, y)
    assert logits is None and loss.isfinite()
    loss.backward()
    m.eval()
    logits, exact = m(x, y)
    assert logits.shape == (32, 300) and math.isclose(exact.item(), math.log(300), rel_tol=0.05)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


TRAIN = ["--block-size", "3", "--n-embd", "4", "--n-hidden", "16", "--batch-size", "32",
         "--steps", "40", "--eval-interval", "20", "--quiet", "--samples", "2", "--min-count", "1"]


def test_word_level_cli_sentence_mode(sentences, tmp_path, capsys):
    out = tmp_path / "run"
    printed = run(capsys, "train", sentences, "--out", out, "--level", "word", *TRAIN)
    assert "samples:" in printed
    config = json.loads((out / "config.json").read_text())
    assert config["data"]["level"] == "word" and len(config["data"]["sha256"]) == 64
    assert not (out / "splits.json").exists()
    assert json.loads((out / "vocab.json").read_text())["level"] == "word"
    ev = json.loads(run(capsys, "eval", out, "--split", "test", "--json"))
    scores = [json.loads(s) for s in run(capsys, "score", out, "Emma met Ava .", "Zed ran .",
                                         "--json").splitlines()]
    assert [t["token"] for t in scores[0]["tokens"]] == ["Emma", "met", "Ava", ".", "<e>"]
    assert scores[1]["tokens"][0]["token"] == "<unk>"
    samples = [json.loads(s) for s in run(capsys, "sample", out, "-n", 5, "--seed", 1, "--json",
                                          "--max-len", 12).splitlines()]
    assert len(samples) == 5 and all(len(s["text"].split()) <= 12 for s in samples)
    mixed = json.loads(run(capsys, "eval", out, "--split", "test", "--mix-order", 3, "--json"))
    assert 0 <= mixed["mix"]["weight"] <= 1 and mixed["mix"]["test"]["tokens"] == ev["tokens"]
    assert mixed["mix"]["test"]["loss"] <= max(ev["loss"], mixed["mix"]["test"]["loss"])
    sentences.write_text(sentences.read_text() + "One more .\n")
    assert main(["eval", str(out)]) == 2
    assert "changed since the run was trained" in capsys.readouterr().err


def test_word_level_cli_stream_mode_and_ngram(sentences, tmp_path, capsys):
    out = tmp_path / "stream"
    run(capsys, "train", sentences, "--out", out, "--level", "word", "--word-mode", "stream",
        "--split-tokens", "2000,400", "--lr-schedule", "inverse", "--lr-decay", "1e-4", *TRAIN)
    ev = json.loads(run(capsys, "eval", out, "--json"))
    assert ev["tokens"] == 400  # exactly the dev tokens: no end tokens in a stream
    samples = run(capsys, "sample", out, "-n", 3, "--max-len", 7, "--plain", "--seed", 0)
    assert [len(s.split()) for s in samples.splitlines()] == [7, 7, 7]
    score = json.loads(run(capsys, "score", out, "Emma met Ava .", "--json"))
    assert len(score["tokens"]) == 4  # no end token
    report = json.loads(run(capsys, "ngram", sentences, "--level", "word", "--word-mode",
                            "stream", "--split-tokens", "2000,400", "--order", 3, "--min-count",
                            1, "--sample", 2, "--arpa", tmp_path / "w.arpa", "--json"))
    assert report["dev"]["tokens"] == 400 and len(report["samples"]) == 2
    assert (tmp_path / "w.arpa").read_text().startswith("\\data\\")


@pytest.mark.parametrize("argv, message", [
    (["--order", "0"], "--order must be between 1 and 5"),
    (["--order", "3", "--method", "bigram"], "--method bigram is order 2"),
    (["--level", "word"], "--level word needs a DATA file"),
    (["--split-tokens", "5,5"], "--lowercase and --split-tokens are for --level word"),
])
def test_ngram_cli_errors_are_one_line(capsys, argv, message):
    assert main(["ngram", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
