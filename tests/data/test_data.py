import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nnlm.data.split import split_items
from nnlm.data.text import read_items
from nnlm.data.vocab import BOUNDARY_ID, Vocab
from nnlm.data.windows import Windows
from nnlm.errors import NnlmError


def lecture_dataset(words, block_size, stoi):
    """The lecture's build_dataset, with the end token as id 0 rather than '.'."""
    X, Y = [], []
    for w in words:
        context = [0] * block_size
        for ix in [stoi[ch] for ch in w] + [0]:
            X.append(context)
            Y.append(ix)
            context = context[1:] + [ix]
    return torch.tensor(X), torch.tensor(Y)


def test_split_matches_lecture_sizes(names):
    assert len(names) == 32033
    split = split_items(names)
    assert (len(split.train), len(split.dev), len(split.test)) == (25626, 3203, 3204)
    words = list(names)
    random.seed(42)
    random.shuffle(words)
    assert split.train == words[:25626] and split.dev == words[25626:28829]


def test_windows_match_lecture_examples(names):
    split = split_items(names)
    vocab = Vocab.from_items(split.train)
    assert len(vocab) == 27 and vocab.stoi["a"] == 1 and vocab.stoi["z"] == 26
    for items, n in ((split.train, 182625), (split.dev, 22655), (split.test, 22866)):
        X, Y = Windows(items, vocab, 3).tensors()
        Xl, Yl = lecture_dataset(items, 3, vocab.stoi)
        assert len(Y) == n
        assert torch.equal(X, Xl) and torch.equal(Y, Yl)


def test_dedupe_and_other_fractions(names):
    split = split_items(names, dedupe=True)
    assert len(split.train) + len(split.dev) + len(split.test) == 32033 - 2539
    split = split_items(names, seed=1, fractions=(0.9, 0.05, 0.05))
    assert len(split.train) == int(0.9 * 32033)
    with pytest.raises(NnlmError, match="add up"):
        split_items(names, fractions=(0.8, 0.3, 0.1))
    with pytest.raises(NnlmError, match="too few"):
        split_items(["a", "b"])


def test_boundary_never_collides_with_a_dot():
    vocab = Vocab.from_items(["a.b", "♀ é"])
    assert BOUNDARY_ID == 0 and 0 not in vocab.stoi.values()
    ids = vocab.encode("a.b")
    assert BOUNDARY_ID not in ids and vocab.decode(ids) == "a.b"
    with pytest.raises(NnlmError, match="'z'"):
        vocab.encode("z")


def test_read_items_strips_and_handles_bom_crlf(tmp_path):
    p = tmp_path / "x.txt"
    p.write_bytes(b"\xef\xbb\xbf  anna \r\n\r\n\tbob\r\n \n\xc3\xa9l\xc3\xa9a")
    assert read_items(p) == ["anna", "bob", "éléa"]


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"\n  \n\n", "only blank lines"),
    (b"ok\nfine\n\xff\xfebad\n", r"x.txt:3: not valid UTF-8"),
    (b"ok\n\x00\x01\x02", r"x.txt:2: binary"),
])
def test_read_items_errors_name_file_and_line(tmp_path, content, message):
    p = tmp_path / "x.txt"
    p.write_bytes(content)
    with pytest.raises(NnlmError, match=message):
        read_items(p)


def test_read_items_missing_and_directory(tmp_path):
    with pytest.raises(NnlmError, match="no such file"):
        read_items(tmp_path / "nope.txt")
    with pytest.raises(NnlmError, match="is a directory"):
        read_items(tmp_path)


item_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12) \
    .map(str.strip).filter(lambda s: s and "\n" not in s)


@settings(max_examples=60, deadline=None)
@given(items=st.lists(item_text, min_size=1, max_size=20), block_size=st.integers(1, 6))
def test_windows_properties(items, block_size):
    vocab = Vocab.from_items(items)
    assert [vocab.decode(vocab.encode(s)) for s in items] == items
    X, Y = Windows(items, vocab, block_size).tensors()
    assert len(Y) == sum(len(s) + 1 for s in items)
    # each item contributes its characters then the end token; contexts restart at 0
    Xl, Yl = lecture_dataset(items, block_size, vocab.stoi)
    assert torch.equal(X, Xl) and torch.equal(Y, Yl)
