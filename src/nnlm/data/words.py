"""Word level: whitespace-separated tokens, `<unk>` for rare words, token-count splits.

The corpus is held as one int32 array of token ids (4 bytes per token) plus the start of
each line, never as Python strings per token, so a 100M-token corpus peaks at 1.8 GiB
(benchmarks/word_scale.py); contexts are gathered per batch (windows.StreamWindows, or
windows.Windows.from_ids for sentences).

Two modes:
  sentence  one sentence per line, each between boundary tokens like a character item:
            contexts start at the sentence, the end token is predicted and counted.
  stream    the whole text is one token stream: contexts run across line ends, each line
            end a token of its own (LINE_END), or with line_ends off nothing (Bengio et al.
            2003: only words are predicted); the split is in order.
"""

from __future__ import annotations

import hashlib
import random
import re
from array import array
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import NnlmError, TooFew
from .split import fraction_cuts
from .split import check_fractions
from .text import lines, read_text
from .vocab import BOUNDARY_DISPLAY, BOUNDARY_ID
from .windows import StreamWindows, Windows

UNK = "<unk>"
UNK_ID = 1
LINE_END = "\n"  # a word of its own in running text (--line-ends)
WHITESPACE = re.compile(r"\s")


class WordVocab:
    """Boundary (0), `<unk>` (1), then the kept words, most frequent first.

    Frequency order is what the sampled softmax's log-uniform draws assume (models/base.py).
    Any word not in the vocabulary encodes as `<unk>`.
    """

    level = "word"

    def __init__(self, words: list[str], lowercase: bool = False):
        if len(set(words)) != len(words) or UNK in words:
            raise NnlmError("word vocabulary has a repeated token or a literal <unk>")
        self.words, self.lowercase = list(words), lowercase
        self.stoi = {w: i + 2 for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words) + 2

    def __eq__(self, other) -> bool:
        return isinstance(other, WordVocab) and (self.words, self.lowercase) == (
            other.words, other.lowercase)

    def split(self, text: str) -> list[str]:
        """The words of a text (lowercased first, where the vocabulary is)."""
        return (text.lower() if self.lowercase else text).split()

    def encode(self, item: str, context: str = "") -> list[int]:
        """Token ids of the words of `item`; unknown words are `<unk>`."""
        return [self.stoi.get(w, UNK_ID) for w in self.split(item)]

    def decode(self, ids) -> str:
        """The words joined by spaces; a line end starts a new line, without spaces around it."""
        words = [UNK if i == UNK_ID else self.words[i - 2] for i in ids if i != BOUNDARY_ID]
        return " ".join(words).replace(" \n ", "\n").replace(" \n", "\n").replace("\n ", "\n")

    def keys(self) -> list:
        """What each id stands for, by id (Vocab.keys): the boundary, <unk>, then the words."""
        return [BOUNDARY_DISPLAY, UNK, *self.words]

    def token_str(self, i: int) -> str:
        """The token as people read it (a line end spelled as a backslash and n)."""
        if i == BOUNDARY_ID:
            return BOUNDARY_DISPLAY
        word = UNK if i == UNK_ID else self.words[i - 2]
        return "\\n" if word == LINE_END else word

    def to_json(self) -> dict:
        """What vocab.json keeps: the level, the boundary id, <unk>, lowercase and the words."""
        return {"level": "word", "boundary_id": BOUNDARY_ID, "unk": UNK,
                "lowercase": self.lowercase, "words": self.words}

    @classmethod
    def from_json(cls, obj: dict) -> WordVocab:
        """The vocabulary vocab.json describes; NnlmError where it is not a word vocabulary."""
        if obj.get("level") != "word" or not isinstance(obj.get("words"), list):
            raise NnlmError("vocab.json: not a word vocabulary")
        if not all(isinstance(w, str) and (w == LINE_END or w and not any(c.isspace() for c in w))
                   for w in obj["words"]):
            raise NnlmError("vocab.json: every word must be a non-empty string without whitespace")
        return cls(obj["words"], bool(obj.get("lowercase", False)))


@dataclass
class Corpus:
    """A text file as token ids over its own word list (first-appearance order)."""

    ids: np.ndarray  # (tokens,) int32
    line_starts: np.ndarray  # (lines + 1,) int64: line i is ids[line_starts[i]:line_starts[i+1]]
    words: list[str]  # id -> word
    sha256: str

    def line_lengths(self) -> np.ndarray:
        """Tokens of each line: (lines,) int64."""
        return np.diff(self.line_starts)


def read_corpus(path: str | Path, lowercase: bool = False, line_ends: bool = False) -> Corpus:
    """Every whitespace-separated word of a UTF-8 file, line by line; blank lines skipped,
    unless `line_ends`: then each line end is a word of its own, LINE_END (text as a stream)."""
    text = read_text(path)
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    index: dict[str, int] = {}
    ids, starts = array("i"), array("q", [0])
    found = lines(text)
    for n, line in enumerate(found, 1):
        for piece in pieces(line.lower() if lowercase else line):
            ids.extend([index.setdefault(w, len(index)) for w in piece.split()])
        if line_ends and n < len(found):  # (the last piece follows the last line end)
            ids.append(index.setdefault(LINE_END, len(index)))
        if len(ids) > starts[-1]:
            starts.append(len(ids))
    if not ids:
        raise NnlmError(f"{path}: no words (the file has only whitespace)")
    return Corpus(np.frombuffer(ids, dtype=np.int32).copy(), np.frombuffer(starts, dtype=np.int64).copy(),
                  list(index), sha)


def pieces(line: str, size: int = 1 << 20):
    """A line in pieces of about `size` characters, cut only at whitespace: a corpus written
    as one huge line is never split into one Python list of all its words at once."""
    start = 0
    while len(line) - start > size:
        space = WHITESPACE.search(line, start + size)
        cut = space.start() if space else len(line)
        yield line[start:cut]
        start = cut
    yield line[start:]


@dataclass
class Part:
    """One split: token ids in the model's vocabulary and the length of each sentence."""

    ids: np.ndarray  # (tokens,) int32
    lengths: np.ndarray  # (sentences,) int64; in stream mode, one "sentence": everything
    chars: int = 0  # characters of the text its tokens cover (see text_lengths)

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class WordSplit:
    train: Part
    dev: Part
    test: Part
    mode: str

    def windows(self, name: str, block_size: int):
        """The examples of split `name`, contexts of `block_size` tokens."""
        part = getattr(self, name)
        if self.mode == "stream":
            return StreamWindows(torch.from_numpy(part.ids), block_size)
        return Windows.from_ids(torch.from_numpy(part.ids), torch.from_numpy(part.lengths), block_size)

    def tokens(self) -> dict:
        """Tokens of each split."""
        return {name: len(getattr(self, name)) for name in ("train", "dev", "test")}

    def chars(self) -> dict:
        """Characters of text each split's tokens cover (words.text_lengths)."""
        return {name: getattr(self, name).chars for name in ("train", "dev", "test")}


def text_lengths(corpus: Corpus) -> np.ndarray:
    """Characters of text each word of a corpus stands for (by its id): its own and one
    whitespace character after it; a line end token none (the word before counted it). A
    word that becomes <unk> still stands for its own characters."""
    return np.array([0 if w == LINE_END else len(w) + 1 for w in corpus.words], dtype=np.int64)


def cut_points(corpus: Corpus, mode: str, split_tokens: tuple) -> tuple[int, int]:
    """Token positions where dev and test start: exact in stream mode, rounded up to the
    next line start in sentence mode (a sentence is never cut)."""
    if len(split_tokens) != 2 or min(split_tokens) < 0 or split_tokens[0] < 1:
        raise NnlmError(f"split_tokens needs (TRAIN, DEV) token counts, got {split_tokens}",
                        cli=f"--split-tokens needs TRAIN,DEV token counts, got {split_tokens}")
    a, b = split_tokens[0], split_tokens[0] + split_tokens[1]
    total = len(corpus.ids)
    if b > total:
        why = f"asks for {b} tokens; the corpus has {total}"
        raise NnlmError(f"split_tokens=({a}, {split_tokens[1]}) {why}",
                        cli=f"--split-tokens {a},{split_tokens[1]} {why}")
    if mode == "sentence":
        starts = corpus.line_starts
        a, b = (int(starts[min(np.searchsorted(starts, x), len(starts) - 1)]) for x in (a, b))
    return a, b


def line_order(corpus: Corpus, seed: int, fractions: tuple, dedupe: bool) -> list[np.ndarray]:
    """Line numbers of train, dev and test for a shuffled-lines split (as split_items)."""
    check_fractions(fractions)
    lines = list(range(len(corpus.line_starts) - 1))
    if dedupe:
        seen = {}
        for i in lines:
            seen.setdefault(corpus.ids[corpus.line_starts[i]:corpus.line_starts[i + 1]].tobytes(), i)
        lines = list(seen.values())
    random.Random(seed).shuffle(lines)
    n = len(lines)
    n1, n2 = fraction_cuts(n, fractions)
    if n1 == 0 or (fractions[1] > 0 and n2 == n1):
        raise TooFew(f"{n} lines are too few for a {fractions} split")
    return [np.array(lines[:n1], dtype=np.int64), np.array(lines[n1:n2], dtype=np.int64),
            np.array(lines[n2:], dtype=np.int64)]


def gather_lines(corpus: Corpus, lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ids of `lines` concatenated, and their lengths, without a per-token Python loop."""
    lengths = corpus.line_lengths()[lines]
    starts = corpus.line_starts[lines]
    offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return corpus.ids[np.arange(int(lengths.sum())) + offsets], lengths


def build_vocab(words: list[str], counts: np.ndarray, min_count: int, lowercase: bool) -> WordVocab:
    """The words seen more than `min_count` times (counts[i] is words[i]'s), most frequent
    first; a literal <unk> in the text is the unknown word. (The settings are checked where
    they are declared: settings/data.py.)"""
    kept = sorted(np.flatnonzero(counts > min_count).tolist(), key=lambda i: (-counts[i], words[i]))
    return WordVocab([words[i] for i in kept if words[i] != UNK], lowercase)


def remap(corpus: Corpus, vocab: WordVocab) -> np.ndarray:
    """corpus id -> vocabulary id (UNK_ID for words the vocabulary lacks): (words,) int32."""
    return np.array([vocab.stoi.get(w, UNK_ID) for w in corpus.words], dtype=np.int32)


def make_parts(parts, mode: str, ids_map, lengths_map) -> WordSplit:
    """A WordSplit of (ids, line lengths) per split, ids mapped through ids_map[k] (and their
    characters counted through lengths_map[k], see text_lengths)."""
    encoded = [Part(ids_map[k][ids], lengths if mode == "sentence" else np.array([len(ids)]),
                    text_chars(ids, lengths_map[k]))
               for k, (ids, lengths) in enumerate(parts)]
    return WordSplit(*encoded, mode=mode)


def text_chars(ids: np.ndarray, lengths: np.ndarray) -> int:
    """Characters of text that corpus ids stand for: text_lengths each, and one for a line end
    that follows a line end (a blank line) or starts the split."""
    if not len(ids):
        return 0
    own = lengths[ids]
    ends = own == 0  # line end tokens
    return int(own.sum() + (ends & np.concatenate([[True], ends[:-1]])).sum())


def split_corpus(corpus: Corpus, *, mode: str, min_count: int = 3, vocab_from: str = "train",
                 split_tokens: tuple = (), seed: int = 42, fractions: tuple = (0.8, 0.1, 0.1),
                 dedupe: bool = False, lowercase: bool = False) -> tuple[WordVocab, WordSplit]:
    """Cut the corpus into train/dev/test (contiguous by token counts; a stream, in order by the
    fractions; sentences, shuffled lines), build the vocabulary from the training part (or all
    of it) and encode every part. `mode`: "sentence" or "stream"; `vocab_from`: "train" or
    "all" (the settings resolved: wordsources.resolve_vocabulary)."""
    if mode == "stream" and not split_tokens:  # running text: in order
        n = len(corpus.ids)
        n1, n2 = fraction_cuts(n, fractions)
        split_tokens = (n1, n2 - n1)
        if split_tokens[0] < 1 or (fractions[1] > 0 and split_tokens[1] < 1):
            raise TooFew(f"{n} tokens are too few for a {fractions} split")
    if split_tokens:
        a, b = cut_points(corpus, mode, tuple(split_tokens))
        parts = [_contiguous(corpus, lo, hi) for lo, hi in ((0, a), (a, b), (b, len(corpus.ids)))]
    else:
        parts = [gather_lines(corpus, lines) for lines in line_order(corpus, seed, fractions, dedupe)]
    counted = corpus.ids if vocab_from == "all" else parts[0][0]
    vocab = build_vocab(corpus.words, np.bincount(counted, minlength=len(corpus.words)),
                        min_count, lowercase)
    ids_map = remap(corpus, vocab)
    return vocab, make_parts(parts, mode, [ids_map] * 3, [text_lengths(corpus)] * 3)


def encode_parts(corpora: list[Corpus | None], *, mode: str, min_count: int = 3,
                 vocab_from: str = "train", lowercase: bool = False) -> tuple[WordVocab, WordSplit]:
    """Train, dev and test from files of their own (None: an empty split); the vocabulary
    is counted on the train file (or on all of them)."""
    counts: dict[str, int] = {}
    for corpus in corpora[:1] if vocab_from == "train" else corpora:
        if corpus is not None:
            for word, n in zip(corpus.words, np.bincount(corpus.ids, minlength=len(corpus.words)),
                               strict=True):
                counts[word] = counts.get(word, 0) + int(n)
    words = list(counts)
    vocab = build_vocab(words, np.array([counts[w] for w in words], dtype=np.int64), min_count, lowercase)
    empty = (np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64))
    parts = [(c.ids, c.line_lengths()) if c is not None else empty for c in corpora]
    ids_map = [remap(c, vocab) if c is not None else np.zeros(0, dtype=np.int32) for c in corpora]
    lengths_map = [text_lengths(c) if c is not None else np.zeros(0, dtype=np.int64) for c in corpora]
    return vocab, make_parts(parts, mode, ids_map, lengths_map)


def _contiguous(corpus: Corpus, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Tokens lo..hi and the lengths of the lines they cover (cut where lo/hi fall)."""
    starts = np.clip(corpus.line_starts, lo, hi)
    lengths = np.diff(starts)
    return corpus.ids[lo:hi], lengths[lengths > 0]
