import math

import numpy as np
import pytest

from nnlm.data.split import split_items
from nnlm.data.vocab import Vocab
from nnlm.data.windows import Windows
from nnlm.ngram import arpa
from nnlm.ngram import counts as ngram

TINY = ["abba", "ab", "baaab", "c", "abc", "cab", "bb"]


def fitted(items, order, vocab=None):
    vocab = vocab or Vocab.from_items(items)
    X, Y = Windows(items, vocab, max(order - 1, 1)).tensors()
    return ngram.KneserNey(order, len(vocab)).fit(X.numpy(), Y.numpy()), vocab


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
    counts = arpa.write_arpa(model, tmp_path / "m.arpa", names_of)
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
    sections = arpa.arpa_sections(model)
    assert len(sections) == 2
    assert arpa._arpa_name(" ") == "<U+0020>"


@pytest.mark.parametrize("order", [2, 4, 6])
def test_kenlm_reads_our_arpa_files_and_gives_our_probabilities(names, tmp_path, order):
    kenlm = pytest.importorskip("kenlm")  # the test extra installs it
    split = split_items(names[:4000])
    model, vocab = fitted(split.train, order)
    spelled = [vocab.token_str(i) for i in range(len(vocab))]
    arpa.write_arpa(model, tmp_path / "m.arpa", spelled)
    oracle = kenlm.Model(str(tmp_path / "m.arpa"))
    X, Y = Windows(split.test, vocab, max(order - 1, 1)).tensors()
    theirs = [score for item in split.test for score, _, _ in oracle.full_scores(" ".join(item))]
    np.testing.assert_allclose(theirs, model.logprob(X.numpy(), Y.numpy()) / math.log(10), atol=2e-5)
