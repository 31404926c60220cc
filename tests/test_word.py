import json
import math
import random

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import nnlm
from nnlm import ngram
from nnlm.cli import main
from nnlm.data import Windows
from nnlm.evaluate import token_logprobs
from nnlm.mix import mix_logprobs, mix_many, tune_weight, tune_weights
from nnlm.models.mlp import MLP, MLPConfig
from nnlm.words import UNK_ID, StreamWindows, WordVocab, pieces, read_corpus, split_corpus


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


@given(st.text(alphabet=st.sampled_from("ab \t\u00a0\u2028\x1c"), max_size=60),
       st.integers(1, 8))
def test_long_lines_are_read_in_pieces_that_keep_every_word(line, size):
    parts = list(pieces(line, size))
    assert "".join(parts) == line
    assert [w for part in parts for w in part.split()] == line.split()


def test_mixture_is_normalised_and_has_the_right_ends(names):
    V = 12
    rng = np.random.default_rng(0)
    X, Y = rng.integers(0, V, (500, 2)), rng.integers(1, V, 500)
    kn = ngram.KneserNey(3, V).fit(X, Y)
    mlp = MLP(MLPConfig(vocab_size=V, block_size=2, n_embd=3, n_hidden=5)).eval()
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


def test_em_weights_of_three_components_match_a_grid_over_the_simplex():
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(6), size=(3, 400))[..., 0]  # (3, 400) three models' probabilities
    p[2] = p[0] * 0.9 + 0.05  # a near-twin of the first: EM must still find the optimum
    lp = list(np.log(p))
    w = tune_weights(lp)
    assert math.isclose(w.sum(), 1.0) and (w >= 0).all()
    steps = np.linspace(0, 1, 101)
    grid = min(((a, b, 1 - a - b) for a in steps for b in steps if a + b <= 1 + 1e-12),
               key=lambda g: -mix_many(lp, np.clip(g, 0, 1)).mean())
    assert -mix_many(lp, w).mean() <= -mix_many(lp, np.clip(grid, 0, 1)).mean() + 1e-9
    assert np.allclose(mix_many(lp, [0.2, 0.3, 0.5]),
                       np.log(0.2 * p[0] + 0.3 * p[1] + 0.5 * p[2]))
    assert np.allclose(mix_many(lp, [0, 1, 0]), lp[1])


def test_mixing_runs_with_each_other_and_a_trigram(sentences, tmp_path, capsys):
    a, b, other = tmp_path / "a", tmp_path / "b", tmp_path / "other"
    run(capsys, "train", sentences, "--out", a, "--level", "word", *TRAIN)
    run(capsys, "train", sentences, "--out", b, "--level", "word", *TRAIN, "--seed", 7, "--tie")
    assert json.loads((b / "config.json").read_text())["model"]["tie"] is True
    alone = [json.loads(run(capsys, "eval", r, "--json", "--no-mix"))["loss"] for r in (a, b)]
    both = json.loads(run(capsys, "eval", a, "--mix-with", b, "--json"))["mix"]
    three = json.loads(run(capsys, "eval", a, "--mix-with", b, "--mix-order", 3, "--json"))["mix"]
    assert [c["name"] for c in three["components"]] == [str(a), str(b), "kneser-ney n=3"]
    assert math.isclose(sum(c["weight"] for c in three["components"]), 1.0)
    assert both["dev"]["loss"] <= min(alone) + 1e-9  # tuned on dev
    assert three["dev"]["loss"] <= both["dev"]["loss"] + 1e-9
    half = json.loads(run(capsys, "eval", a, "--mix-with", b, "--mix-weight", .5, .5, "--json"))
    la, lb = (token_logprobs_of(r) for r in (a, b))
    assert math.isclose(half["mix"]["dev"]["loss"], -np.logaddexp(la, lb).mean() + math.log(2),
                        rel_tol=1e-6)
    different = tmp_path / "other.txt"
    different.write_text("Different words entirely here .\n" * 30)
    run(capsys, "train", different, "--out", other, "--level", "word", *TRAIN)
    assert main(["eval", str(a), "--mix-with", str(other)]) == 2
    err = capsys.readouterr().err
    assert "not trained on the same data" in err and "Traceback" not in err
    assert main(["eval", str(a), "--mix-with", str(b), "--mix-weight", "0.9"]) == 2
    assert "one weight per run (2)" in capsys.readouterr().err


def token_logprobs_of(run_dir) -> np.ndarray:
    lm = nnlm.load(run_dir, device="cpu")
    return token_logprobs(lm.model, lm.spec.windows("dev"), lm.device).double().numpy()


def test_sampled_softmax_loss_equals_a_hand_computation(monkeypatch):
    """The sampled loss of fixed draws, computed by hand: candidates are the batch's targets
    and the draws, each logit corrected by log(1 - (1 - q)^(K + B)) with q its Zipf chance."""
    import nnlm.models.base as base

    torch.manual_seed(0)
    V, K = 50, 6
    m = MLP(MLPConfig(vocab_size=V, block_size=2, n_embd=3, n_hidden=4, direct=True, sampled=K))
    with torch.no_grad():
        for p in m.parameters():
            p.normal_()
    draws = torch.tensor([0, 3, 3, 17, 40, 49])
    monkeypatch.setattr(base, "zipf_ids", lambda k, v, device: draws[:k])
    x, y = torch.tensor([[1, 2], [5, 9], [9, 9]]), torch.tensor([3, 7, 20])
    m.train()
    _, loss = m(x, y)
    candidates = sorted({*y.tolist(), *draws.tolist()})  # 0 3 7 17 20 40 49
    e = m.C.weight[x].reshape(3, -1)
    h = torch.tanh(e @ m.hidden.weight.T + m.hidden.bias)
    expected = 0.0
    for row in range(3):
        logits = []
        for c in candidates:
            q = math.log((c + 2) / (c + 1)) / math.log(V + 1)
            chance = 1 - (1 - q) ** (K + 3)
            logit = h[row] @ m.out.weight[c] + m.out.bias[c] + e[row] @ m.direct.weight[c]
            logits.append(logit - math.log(chance))
        logits = torch.stack(logits)
        expected += -(logits[candidates.index(int(y[row]))] - torch.logsumexp(logits, 0)) / 3
    assert math.isclose(loss.item(), expected.item(), rel_tol=1e-5)
    loss.backward()
    assert m.out.weight.grad[candidates].abs().sum() > 0 and m.out.weight.grad[1].abs().sum() == 0
    m.eval()  # evaluation is the exact softmax over all of V
    logits, exact = m(x, y)
    assert logits.shape == (3, V)
    assert math.isclose(exact.item(), torch.nn.functional.cross_entropy(logits, y).item(), rel_tol=1e-6)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


TRAIN = ["--preset", "quick", "--block-size", "3", "--n-embd", "4", "--n-hidden", "16", "--batch-size", "32",
         "--steps", "40", "--eval-interval", "20", "--quiet", "--samples", "2", "--min-count", "1"]


def test_word_level_cli_sentence_mode(sentences, tmp_path, capsys):
    out = tmp_path / "run"
    printed = run(capsys, "train", sentences, "--out", out, "--level", "word", *TRAIN)
    assert "samples:" in printed
    config = json.loads((out / "config.json").read_text())
    assert config["data"]["level"] == "word" and config["source"]["kind"] == "sentences"
    assert len(config["source"]["sha256"][str(sentences.resolve())]) == 64
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
    # tuned on dev: on dev the mixture is no worse than the MLP alone (weight 1 is a candidate)
    dev = json.loads(run(capsys, "eval", out, "--mix-order", 3, "--json"))
    assert dev["mix"]["dev"]["loss"] <= dev["loss"] + 1e-9
    given = json.loads(run(capsys, "eval", out, "--mix-order", 3, "--mix-weight", 1, "--json"))
    assert math.isclose(given["mix"]["dev"]["loss"], given["loss"], rel_tol=1e-6)
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
    (["--order", "0"], "--order must be between 1 and 10"),
    (["--order", "3", "--method", "bigram"], "--method bigram is order 2"),
    (["--level", "word"], "--level word needs a DATA file"),
    (["--split-tokens", "5,5"], "--lowercase and --split-tokens are for --level word"),
])
def test_ngram_cli_errors_are_one_line(capsys, argv, message):
    assert main(["ngram", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
