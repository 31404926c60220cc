"""tiktoken's encoder built from a trained tokenizer gives the library's own ids: on random text,
on texts over small alphabets (where merges overlap the most), and for every code point (the two
regex engines must put each character in the same class: letter, number, space or other)."""

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, models, pre_tokenizers

from helpers import VERSE
from nnlm.data.bpe import BPEVocab, pieces_of, train_bpe
from nnlm.data.fastbpe import byte_of_char, fast_encoder


@settings(max_examples=80, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=300))
def test_the_fast_encoder_gives_the_tokenizers_ids(vocab, text):
    assert vocab.fast.encode_ordinary(text) == vocab.tokenizer.encode(text).ids


def test_long_texts_encode_alike_in_pieces_on_threads(vocab):
    text = VERSE.read_text() * 16
    assert len(pieces_of(text, 1 << 16)) > 3  # encode_array's pieces, on two threads or more
    assert vocab.encode_array(text).tolist() == [i + 1 for i in vocab.tokenizer.encode(text).ids]


def test_long_runs_encode_alike(vocab):
    """One piece of GPT-2's split thousands of characters long (tiktoken's merges there were
    quadratic before 0.13)."""
    text = "a" * 3000 + " " + "\n" * 2000 + "b" + "ab" * 2000 + "\t" * 700
    assert vocab.encode_array(text).tolist() == [i + 1 for i in vocab.tokenizer.encode(text).ids]


def test_texts_over_small_alphabets_encode_alike():
    rng = random.Random(0)
    for alphabet in ["ab", "aab ", "ab \n", "abcdefgh  \n", "aé☺ 1", "xyz'st "]:
        for size in (270, 600):
            trained = BPEVocab(train_bpe(["".join(rng.choice(alphabet) for _ in range(5000))], size))
            for _ in range(40):
                text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 200)))
                expected = trained.tokenizer.encode(text).ids
                assert trained.fast.encode_ordinary(text) == expected, (alphabet, text)


@pytest.fixture(scope="module")
def every_pair():
    """A tokenizer that merges any two bytes of a piece, so that where the split cuts shows in the
    ids ('ab' is one token, 'a' 'b' two), and its fast encoder."""
    char_of = {b: c for c, b in byte_of_char().items()}
    vocab = {char_of[b]: b for b in range(256)}
    merges = [(char_of[x], char_of[y]) for x in range(256) for y in range(256)]
    vocab.update({a + b: 256 + n for n, (a, b) in enumerate(merges)})
    tokenizer = Tokenizer(models.BPE(vocab, merges))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    return tokenizer, fast_encoder(json.loads(tokenizer.to_str()))


def split_alike(every_pair, code_points):
    """The code points whose class the two engines disagree on: each in the contexts
    letter-X-number, space-X, X-X, and before a contraction."""
    tokenizer, fast = every_pair
    context = "a{0}1 {0}\n x{0}{0}'s"
    differ = []
    for start in range(0, len(code_points), 4096):
        block = [chr(c) for c in code_points[start:start + 4096]]
        text = "".join(context.format(c) for c in block)
        if tokenizer.encode(text).ids != fast.encode_ordinary(text):
            alone = [c for c in block if tokenizer.encode(context.format(c)).ids
                     != fast.encode_ordinary(context.format(c))]
            differ += alone or [f"the block from U+{code_points[start]:04X}"]
    return differ


def test_the_engines_split_a_sample_of_code_points_alike(every_pair):
    assert every_pair[0].encode("ab").ids != every_pair[0].encode("a b").ids[1:]  # the cut shows
    sample = [*range(0x800), *range(0x800, 0x110000, 251)]
    assert split_alike(every_pair, [c for c in sample if not 0xD800 <= c < 0xE000]) == []


@pytest.mark.slow
def test_the_engines_split_every_code_point_alike(every_pair):
    assert split_alike(every_pair, [c for c in range(0x110000) if not 0xD800 <= c < 0xE000]) == []


def test_other_settings_are_encoded_by_the_library(vocab):
    spec = json.loads(vocab.tokenizer.to_str())
    assert fast_encoder(spec) is not None
    for change in ({"pre_tokenizer": dict(spec["pre_tokenizer"], add_prefix_space=True)},
                   {"normalizer": {"type": "NFC"}},
                   {"model": dict(spec["model"], merges=spec["model"]["merges"][::-1])}):
        assert fast_encoder({**spec, **change}) is None
    tokenizer = Tokenizer.from_str(vocab.tokenizer.to_str())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    other = BPEVocab(tokenizer)
    assert other.fast is None
    text = VERSE.read_text()[:3000]
    assert other.encode_array(text).tolist() == other.encode(text) != vocab.encode(text)
