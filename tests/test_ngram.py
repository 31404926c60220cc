import itertools
import math

import numpy as np
import pytest

from nnlm import ngram
from nnlm.data import Vocab, Windows, split_items
from nnlm.errors import NnlmError

TINY = ["abba", "ab", "baaab", "c", "abc", "cab", "bb"]


def fitted(items, order, vocab=None):
    vocab = vocab or Vocab.from_items(items)
    X, Y = Windows(items, vocab, max(order - 1, 1)).tensors()
    return ngram.KneserNey(order, len(vocab)).fit(X.numpy(), Y.numpy()), vocab


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
def test_kn_sums_to_one_for_every_context_of_tiny_data(order):
    model, vocab = fitted(TINY, order)
    width = max(order - 1, 1)
    # every context over the vocabulary: seen, unseen, with and without the boundary 0
    for ctx in itertools.product(range(len(vocab)), repeat=width):
        p = model.distribution(np.array(ctx))
        assert p.min() > 0 and math.isclose(p.sum(), 1.0, rel_tol=1e-12)
        # prob() of every token agrees with the full distribution
        full = model.prob(np.tile(ctx, (len(vocab), 1)), np.arange(len(vocab)))
        np.testing.assert_allclose(full, p, rtol=1e-12)


@pytest.mark.parametrize("order", [2, 3, 5])
def test_kn_sums_to_one_on_names_contexts(names, order):
    split = split_items(names)
    model, vocab = fitted(split.train, order)
    X, _ = Windows(split.test, vocab, order - 1).tensors()
    rng = np.random.default_rng(0)
    contexts = list(X.numpy()[rng.choice(len(X), 200)])  # real contexts, boundary-padded
    contexts += list(rng.integers(0, len(vocab), (100, order - 1)))  # mostly unseen
    for ctx in contexts:
        assert math.isclose(model.distribution(ctx).sum(), 1.0, rel_tol=1e-10)


def test_kn_discounts_and_perplexity_are_sensible(names):
    split = split_items(names)
    losses = []
    for order in (1, 3, 5):
        model, vocab = fitted(split.train, order)
        for D in (level.discounts for level in model.levels):
            assert 0 <= D[0] <= 1 and 0 <= D[1] <= 2 and 0 <= D[2] <= 3
        X, Y = Windows(split.dev, vocab, max(order - 1, 1)).tensors()
        losses.append(ngram.perplexity(model.logprob(X.numpy(), Y.numpy()))[0])
    assert losses[0] > losses[1] > losses[2] > 1.9  # more context helps; names are hard


def read_arpa(path):
    """A small reference ARPA reader: {tuple of words: (log10 p, log10 bow)}."""
    table, order = {}, 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("\\") and line.endswith("-grams:"):
            order = int(line[1:].split("-")[0])
        elif order and line.strip() and not line.startswith("\\"):
            parts = line.split("\t")
            words = tuple(parts[1].split(" "))
            assert len(words) == order
            table[words] = (float(parts[0]), float(parts[2]) if len(parts) > 2 else 0.0)
    return table


def arpa_log10(table, context, word):
    """Standard backoff lookup: p(w | h) if listed, else bow(h) * p(w | h minus its first)."""
    if (*context, word) in table:
        return table[(*context, word)][0]
    if not context:
        raise KeyError(word)
    return table.get(tuple(context), (0, 0.0))[1] + arpa_log10(table, context[1:], word)


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_arpa_backoff_lookup_reproduces_the_model(names, tmp_path, order):
    split = split_items(names[:3000])
    model, vocab = fitted(split.train, order)
    names_of = [vocab.token_str(i) for i in range(len(vocab))]
    counts = ngram.write_arpa(model, tmp_path / "m.arpa", names_of)
    text = (tmp_path / "m.arpa").read_text()
    assert text.startswith("\\data\\\n") and text.endswith("\\end\\\n")
    assert [f"ngram {k}={n}" in text for k, n in enumerate(counts, 1)] == [True] * order
    table = read_arpa(tmp_path / "m.arpa")
    X, Y = Windows(split.test + ["qzx"], vocab, max(order - 1, 1)).tensors()
    X, Y = X.numpy()[:, -(order - 1):] if order > 1 else X.numpy()[:, :0], Y.numpy()
    direct = model.logprob(X, Y) / math.log(10)
    for x, y, expect in zip(X, Y, direct, strict=False):
        context = ["<s>" if t == 0 else names_of[t] for t in x]
        word = "</s>" if y == 0 else names_of[y]
        assert math.isclose(arpa_log10(table, context, word), expect, abs_tol=2e-6)


def test_arpa_spells_whitespace_tokens():
    model, _ = fitted(["a b", "ab"], 2, Vocab.from_items(["a b", "ab"]))
    sections = ngram.arpa_sections(model)
    assert len(sections) == 2
    assert ngram._arpa_name(" ") == "<U+0020>"


def test_count_bigram_is_the_lectures(names):
    split = split_items(names)
    vocab = Vocab.from_items(split.train)
    X, Y = (t.numpy() for t in Windows(split.train, vocab, 1).tensors())
    counts = np.zeros((len(vocab), len(vocab)))
    np.add.at(counts, (X[:, 0], Y), 1)
    expected = (counts + 1) / (counts + 1).sum(1, keepdims=True)
    model = ngram.CountBigram(len(vocab), smoothing=1.0).fit(X, Y)
    for prev in range(len(vocab)):
        np.testing.assert_allclose(model.distribution(np.array([prev])), expected[prev])
    loss, _ = ngram.perplexity(model.logprob(X, Y))
    assert 2.4 < loss < 2.5  # the lecture's bigram: about 2.45 nats


def test_sampling_ends_at_the_boundary(names):
    model, _ = fitted(names[:2000], 4)
    samples = ngram.sample(model, 20, 3, 30, np.random.default_rng(0))
    assert len(samples) == 20 and all(0 < len(s) <= 30 and 0 not in s for s in samples)
    streams = ngram.sample(model, 3, 3, 12, np.random.default_rng(0), stop_at_boundary=False)
    assert all(len(s) == 12 for s in streams)


def test_bad_orders_are_errors():
    for order in (0, 6):
        with pytest.raises(NnlmError, match="--order must be between 1 and 5"):
            ngram.KneserNey(order, 10)
