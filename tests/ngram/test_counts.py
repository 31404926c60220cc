import itertools
import math

import numpy as np
import pytest

from nnlm.data.split import split_items
from nnlm.data.vocab import Vocab
from nnlm.data.windows import Windows
from nnlm.errors import NnlmError
from nnlm.ngram import arpa
from nnlm.ngram import counts as ngram

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
    for order in (0, 11):
        with pytest.raises(NnlmError, match="order must be between 1 and 10"):
            ngram.KneserNey(order, 10)


def reference_kn(sentences, order, vocab_size):
    """Interpolated modified Kneser-Ney as KenLM's lmplz estimates it, written out with
    dicts over token tuples (0 is <s> before a sentence and </s> after it): every order-N
    window of `<s> w1 .. wn </s>`, cut at its `<s>` (so `<s> <s> a` is `<s> a`); the top
    order and `<s>`-initial n-grams keep raw counts, the rest count distinct left tokens."""
    raw = {}
    for s in sentences:
        t = [0, *s, 0]
        for j in range(1, len(t)):
            g = tuple(t[max(0, j - order + 1):j + 1])
            raw[g] = raw.get(g, 0) + 1
    a = [{} for _ in range(order + 1)]
    for g, c in raw.items():
        a[len(g)][g] = c
    for k in range(order - 1, 0, -1):
        for g in a[k + 1]:
            a[k][g[1:]] = a[k].get(g[1:], 0) + 1

    def discounts(counts):
        n = [sum(1 for c in counts if c == i) for i in range(5)]
        if min(n[1:4]) == 0:
            return (0.5, 1.0, 1.5)
        y = n[1] / (n[1] + 2 * n[2])
        d = tuple(j - (j + 1) * y * n[j + 1] / n[j] for j in (1, 2, 3))
        return d if all(0 <= x <= j for j, x in enumerate(d, 1)) else (0.5, 1.0, 1.5)

    D = [None] + [discounts(a[k].values()) for k in range(1, order + 1)]

    def prob(context, w):
        """p(w | context), context as long as the data allows, <s> at most once (leftmost)."""
        p = 1.0 / vocab_size
        for k in range(1, order + 1):
            h = tuple(context[len(context) - (k - 1):]) if k > 1 else ()
            if k > 1 and (len(context) < k - 1 or 0 in h[1:]):
                break
            followers = {g: c for g, c in a[k].items() if g[:-1] == h}
            total = sum(followers.values())
            if total == 0:
                break
            cut = [0.0, *D[k]]  # the discount of a count c: cut[min(c, 3)]
            gamma = sum(cut[min(c, 3)] for c in followers.values()) / total
            c = followers.get((*h, w), 0)
            own = max(c - cut[min(c, 3)], 0) / total
            p = own + gamma * p
        return p

    return prob


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5, 7])
def test_kn_equals_a_reference_written_from_kenlm_on_tiny_data(order):
    """Including item starts: a context is never padded with several <s>."""
    model, vocab = fitted(TINY, order)
    ref = reference_kn([vocab.encode(s) for s in TINY], order, len(vocab))
    for items in (TINY, ["ba", "cc", "abcab", ""]):
        X, Y = Windows([s for s in items if s], vocab, max(order - 1, 1)).tensors()
        X = X.numpy()
        for x, y, p in zip(X, Y.numpy(), model.prob(X, Y.numpy()), strict=True):
            start = max([i for i, t in enumerate(x) if t == 0], default=-1)
            context = list(x[max(start, 0):]) if start >= 0 else list(x)
            assert math.isclose(p, ref(context, int(y)), rel_tol=1e-9), (x, y)


def test_no_ngram_reaches_past_the_start_of_an_item():
    model, _ = fitted(TINY, 5)
    ctx = arpa.context_tokens(model)
    for j, tokens in enumerate(ctx):
        assert not (tokens[:, 1:] == 0).any(), j  # <s> only ever leftmost
    assert model.num_ngrams()[4] < len(set(TINY)) * 6  # no padded <s> <s> <s> copies


# lmplz --discount_fallback on the lecture's split of names.txt (docs: REFERENCE.md)
KENLM_NAMES_DEV = {3: 2.2185, 4: 2.0564, 5: 1.9841, 6: 1.9746, 7: 1.9771, 8: 1.9784, 10: 1.9785}


@pytest.mark.parametrize("order", sorted(KENLM_NAMES_DEV))
def test_kn_on_names_matches_kenlm(names, order):
    split = split_items(names)
    model, vocab = fitted(split.train, order)
    X, Y = Windows(split.dev, vocab, order - 1).tensors()
    loss = ngram.perplexity(model.logprob(X.numpy(), Y.numpy()))[0]
    # KenLM's uniform floor counts one more token (<unk>), which moves the 4th decimal at most
    assert abs(loss - KENLM_NAMES_DEV[order]) < 2e-4, loss
